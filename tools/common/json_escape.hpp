// Shared by the Linux tools: a string escaped for a JSON string literal (quotes, backslashes and
// control characters; other bytes pass through, so UTF-8 stays UTF-8).
#pragma once

#include <cstdio>
#include <string>

namespace pd::tools {

inline std::string json_escape(const std::string& s)
{
    std::string o;
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            o += '\\';
            o += static_cast<char>(c);
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            o += buf;
        } else {
            o += static_cast<char>(c);
        }
    }
    return o;
}

}  // namespace pd::tools
