// SPDX-License-Identifier: MIT
//
// peerdist-origin: request targets to files inside the served directory (see files.hpp).
#include "files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>

namespace pd::origin {

FileHandle::~FileHandle()
{
    if (fd_ >= 0)
        ::close(fd_);
}

FileId file_id(const struct stat& st) noexcept
{
    FileId id;
    id.dev = static_cast<std::uint64_t>(st.st_dev);
    id.ino = static_cast<std::uint64_t>(st.st_ino);
    id.size = static_cast<std::uint64_t>(st.st_size);
    id.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    id.ctime_ns = static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
    return id;
}

bool path_within(const std::string& path, const std::string& base)
{
    if (base == "/")
        return !path.empty() && path[0] == '/';
    if (path.compare(0, base.size(), base) != 0)
        return false;
    return path.size() == base.size() || path[base.size()] == '/';
}

std::optional<Root> Root::open(const std::string& path, std::string* error)
{
    char* real = ::realpath(path.c_str(), nullptr);
    if (!real) {
        if (error)
            *error = path + ": " + std::strerror(errno);
        return std::nullopt;
    }
    std::string r(real);
    std::free(real);
    const int fd = ::open(r.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        if (error)
            *error = r + ": " + std::strerror(errno);
        return std::nullopt;
    }
    return Root(std::move(r), fd);
}

Root::Root(Root&& o) noexcept : real_(std::move(o.real_)), fd_(o.fd_) { o.fd_ = -1; }

Root& Root::operator=(Root&& o) noexcept
{
    if (this != &o) {
        if (fd_ >= 0)
            ::close(fd_);
        real_ = std::move(o.real_);
        fd_ = o.fd_;
        o.fd_ = -1;
    }
    return *this;
}

Root::~Root()
{
    if (fd_ >= 0)
        ::close(fd_);
}

namespace {

int hex_value(char c) noexcept
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool istarts_with(std::string_view s, std::string_view prefix) noexcept
{
    if (s.size() < prefix.size())
        return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        char a = s[i];
        if (a >= 'A' && a <= 'Z')
            a = static_cast<char>(a - 'A' + 'a');
        if (a != prefix[i])
            return false;
    }
    return true;
}

}  // namespace

std::optional<ResolvedFile> Root::resolve(std::string_view target, ResolveError* error) const
{
    auto fail = [error](ResolveError e) -> std::optional<ResolvedFile> {
        if (error)
            *error = e;
        return std::nullopt;
    };
    // [RFC7230] 5.3.2 absolute-form: drop scheme and authority.
    for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
        if (istarts_with(target, scheme)) {
            target.remove_prefix(scheme.size());
            const std::size_t slash = target.find('/');
            target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
            break;
        }
    }
    if (target.empty() || target[0] != '/')
        return fail(ResolveError::kBadRequest);  // asterisk-form, authority-form, garbage
    target = target.substr(0, target.find_first_of("?#"));

    // Percent-decode once; then split into segments.
    std::string decoded;
    decoded.reserve(target.size());
    for (std::size_t i = 0; i < target.size(); ++i) {
        char c = target[i];
        if (c == '%') {
            if (i + 2 >= target.size())  // needs two hex digits after '%'
                return fail(ResolveError::kBadRequest);
            const int hi = hex_value(target[i + 1]);
            const int lo = hex_value(target[i + 2]);
            if (hi < 0 || lo < 0)
                return fail(ResolveError::kBadRequest);
            c = static_cast<char>(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0' || c == '\\')
            return fail(ResolveError::kBadRequest);
        decoded.push_back(c);
    }
    std::vector<std::string_view> segments;
    std::string_view rest(decoded);
    while (!rest.empty()) {
        const std::size_t slash = rest.find('/');
        const std::string_view seg = rest.substr(0, slash);
        if (seg == "..")
            return fail(ResolveError::kNotFound);  // never walk up, whatever it would resolve to
        if (!seg.empty() && seg != ".")
            segments.push_back(seg);
        if (slash == std::string_view::npos)
            break;
        rest.remove_prefix(slash + 1);
    }
    if (segments.empty())
        return fail(ResolveError::kNotFound);  // the root directory itself: no listings
    std::string joined = real_;
    for (auto seg : segments) {
        if (joined.back() != '/')
            joined += '/';
        joined.append(seg);
    }
    if (joined.size() >= PATH_MAX)
        return fail(ResolveError::kNotFound);

    // The real location must be inside the root.
    char* real = ::realpath(joined.c_str(), nullptr);
    if (!real)
        return fail(ResolveError::kNotFound);
    const std::string real_path(real);
    std::free(real);
    if (!path_within(real_path, real_) || real_path.size() == real_.size())
        return fail(ResolveError::kNotFound);
    std::string key = real_path.substr(real_ == "/" ? 1 : real_.size() + 1);

    // Open the real path component by component from the root, refusing symlinks: a link swapped
    // in after realpath() fails here instead of leading elsewhere.
    int dir = fd_;
    int owned = -1;
    std::string_view walk(key);
    int fd = -1;
    while (true) {
        const std::size_t slash = walk.find('/');
        const std::string comp(walk.substr(0, slash));
        if (slash == std::string_view::npos) {
            fd = ::openat(dir, comp.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
            break;
        }
        const int next = ::openat(dir, comp.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (owned >= 0)
            ::close(owned);
        if (next < 0)
            return fail(ResolveError::kNotFound);
        dir = owned = next;
        walk.remove_prefix(slash + 1);
    }
    if (owned >= 0)
        ::close(owned);
    if (fd < 0)
        return fail(ResolveError::kNotFound);
    auto handle = std::make_shared<FileHandle>(fd);
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return fail(ResolveError::kNotFound);
    ResolvedFile out;
    out.file = std::move(handle);
    out.id = file_id(st);
    out.mtime_sec = static_cast<std::int64_t>(st.st_mtim.tv_sec);
    out.key = std::move(key);
    return out;
}

std::string make_etag(const FileId& id)
{
    char buf[80];
    std::snprintf(buf, sizeof buf, "\"%llx-%llx-%llx\"", static_cast<unsigned long long>(id.ino),
                  static_cast<unsigned long long>(id.size), static_cast<unsigned long long>(id.mtime_ns));
    return buf;
}

std::string http_date(std::int64_t epoch_seconds)
{
    static const char* const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char* const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const std::time_t t = static_cast<std::time_t>(epoch_seconds);
    struct tm tm {};
    if (!::gmtime_r(&t, &tm))
        return "Thu, 01 Jan 1970 00:00:00 GMT";
    char buf[40];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7], tm.tm_mday,
                  months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

std::string_view content_type(std::string_view path)
{
    struct Entry {
        std::string_view ext;
        std::string_view type;
    };
    static constexpr Entry table[] = {
        {".html", "text/html"},       {".htm", "text/html"},         {".txt", "text/plain"},
        {".css", "text/css"},         {".js", "text/javascript"},    {".json", "application/json"},
        {".xml", "application/xml"},  {".png", "image/png"},         {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},      {".gif", "image/gif"},         {".svg", "image/svg+xml"},
        {".ico", "image/x-icon"},     {".pdf", "application/pdf"},   {".zip", "application/zip"},
        {".gz", "application/gzip"},  {".iso", "application/x-iso9660-image"},
        {".efi", "application/efi"},  {".wim", "application/octet-stream"},
        {".ipxe", "text/plain"},      {".cab", "application/vnd.ms-cab-compressed"},
        {".msi", "application/x-msi"}, {".exe", "application/vnd.microsoft.portable-executable"},
    };
    const std::size_t slash = path.rfind('/');
    const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
    const std::size_t dot = name.rfind('.');
    if (dot != std::string_view::npos) {
        const std::string_view ext = name.substr(dot);
        for (const auto& e : table) {
            if (e.ext.size() != ext.size())
                continue;
            bool same = true;
            for (std::size_t i = 0; i < ext.size() && same; ++i) {
                char c = ext[i];
                if (c >= 'A' && c <= 'Z')
                    c = static_cast<char>(c - 'A' + 'a');
                same = c == e.ext[i];
            }
            if (same)
                return e.type;
        }
    }
    return "application/octet-stream";
}

}  // namespace pd::origin
