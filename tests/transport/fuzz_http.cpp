// SPDX-License-Identifier: MIT
//
// libFuzzer target for the HTTP request side of peerdist-origin: the bytes go to Boost.Beast's
// request_parser with the limits the origin uses (pccrtp::kMaxHeaderBytes, kMaxBodyBytes; several
// pipelined requests are parsed one after the other, as a keep-alive connection does), and every
// [MS-PCCRTP] parser of transport/pccrtp.cpp runs over the parsed header values - and over the raw
// input too, so that they are exercised even when the HTTP framing is broken. Invariants checked
// (abort on violation): a parsed X-P2P-PeerDist / X-P2P-PeerDistEx formats and parses back to the
// same values; a satisfiable range lies inside the representation; PeerDist is never negotiated
// without `peerdist` in Accept-Encoding or for a MissingDataRequest. Seeds:
// tests/transport/data/fuzz/http/ (the request forms of iPXE, Windows 7 and Windows 8+ from fact
// sheet C.5 / E and [MS-PCCRTP] section 4).
#include "pd/transport/pccrtp.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace pccrtp = pd::transport::pccrtp;
namespace http = boost::beast::http;

namespace {

void check_peerdist(std::string_view v)
{
    const auto p = pccrtp::parse_peerdist(v);
    if (!p)
        return;
    const auto again = pccrtp::parse_peerdist(pccrtp::format_peerdist(*p));
    if (!again || again->version != p->version || again->content_length != p->content_length ||
        again->missing_data_request != p->missing_data_request)
        std::abort();
}

void check_peerdist_ex(std::string_view v)
{
    const auto p = pccrtp::parse_peerdist_ex(v);
    if (!p)
        return;
    const auto again = pccrtp::parse_peerdist_ex(pccrtp::format_peerdist_ex(*p));
    if (!again || again->min_content_information != p->min_content_information ||
        again->max_content_information != p->max_content_information ||
        again->make_hash_request != p->make_hash_request || again->hash_request != p->hash_request)
        std::abort();
    const int v2 = pccrtp::allowed_content_info_version(*p);
    if (v2 < 0 || v2 > 2)
        std::abort();
}

void check_range(std::string_view v)
{
    for (std::uint64_t size : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{99710}, ~std::uint64_t{0}}) {
        const auto r = pccrtp::parse_range(v, size);
        if (r.kind == pccrtp::RangeRequest::Kind::kSatisfiable) {
            if (!(r.first <= r.last && r.last < size))
                std::abort();
            (void)pccrtp::format_content_range(r, size);
        }
    }
}

void check_all(std::string_view v)
{
    check_peerdist(v);
    check_peerdist_ex(v);
    check_range(v);
    (void)pccrtp::accepts_peerdist(v);
    (void)pccrtp::parse_version(v);
}

std::optional<std::string> joined(const http::request<http::empty_body>& req, boost::beast::string_view name)
{
    std::optional<std::string> out;
    auto range = req.equal_range(name);
    for (auto it = range.first; it != range.second; ++it) {
        if (!out)
            out.emplace();
        else
            out->append(", ");
        out->append(it->value().data(), it->value().size());
    }
    return out;
}

void check_request(const http::request<http::empty_body>& req)
{
    const auto ae = joined(req, "Accept-Encoding");
    const auto pd = joined(req, "X-P2P-PeerDist");
    const auto ex = joined(req, "X-P2P-PeerDistEx");
    const auto range = joined(req, "Range");
    for (const auto* v : {&ae, &pd, &ex, &range})
        if (*v)
            check_all(**v);
    pccrtp::RequestHeaders rh;
    const auto method = req.method_string();
    rh.method = std::string_view(method.data(), method.size());
    if (ae)
        rh.accept_encoding = *ae;
    if (pd)
        rh.peerdist = *pd;
    if (ex)
        rh.peerdist_ex = *ex;
    const auto d = pccrtp::negotiate(rh);
    if (d.mode != pccrtp::Mode::kIdentity) {
        if (!ae || !pccrtp::accepts_peerdist(*ae) || d.missing_data_request)
            std::abort();
        if (rh.method != "GET" && rh.method != "HEAD")
            std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    check_all(input);

    // Pipelined requests, each with a fresh parser (as the origin's keep-alive loop does).
    std::size_t offset = 0;
    for (int n = 0; n < 16 && offset < size; ++n) {
        http::request_parser<http::empty_body> parser;
        parser.header_limit(pccrtp::kMaxHeaderBytes);
        parser.body_limit(pccrtp::kMaxBodyBytes);
        parser.eager(true);
        boost::beast::error_code ec;
        std::size_t used = 0;
        while (!parser.is_done() && offset + used < size) {
            const std::size_t k = parser.put(boost::asio::const_buffer(data + offset + used, size - offset - used), ec);
            if (ec == http::error::need_more) {
                ec = {};
                break;
            }
            if (ec)
                break;
            if (k == 0)
                break;
            used += k;
        }
        if (ec || !parser.is_header_done())
            return 0;
        check_request(parser.get());
        if (!parser.is_done() || used == 0)
            return 0;
        offset += used;
    }
    return 0;
}
