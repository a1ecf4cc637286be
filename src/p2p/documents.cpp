// Out-of-band XML documents and base64 (contract in pd/p2p/documents.hpp).
#include "pd/p2p/documents.hpp"

#include <new>
#include <span>

#include "pd/p2p/xml.hpp"

namespace pd::p2p {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::u16string_view kDatatypesUrn = u"urn:schemas-microsoft-com:datatypes";
constexpr std::u16string_view kBinBase64 = u"bin.base64";

int sextet(char32_t c)
{
    if (c >= 'A' && c <= 'Z') return static_cast<int>(c - 'A');
    if (c >= 'a' && c <= 'z') return static_cast<int>(c - 'a' + 26);
    if (c >= '0' && c <= '9') return static_cast<int>(c - '0' + 52);
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

template <class Out>
Hr encode(const std::uint8_t* d, std::size_t n, Out& out)
{
    try {
        Out s;
        s.reserve((n + 2) / 3 * 4);
        for (std::size_t i = 0; i < n; i += 3) {
            std::uint32_t v = std::uint32_t(d[i]) << 16;
            if (i + 1 < n) v |= std::uint32_t(d[i + 1]) << 8;
            if (i + 2 < n) v |= d[i + 2];
            s.push_back(static_cast<typename Out::value_type>(kAlphabet[v >> 18]));
            s.push_back(static_cast<typename Out::value_type>(kAlphabet[(v >> 12) & 63]));
            s.push_back(i + 1 < n ? static_cast<typename Out::value_type>(kAlphabet[(v >> 6) & 63]) : '=');
            s.push_back(i + 2 < n ? static_cast<typename Out::value_type>(kAlphabet[v & 63]) : '=');
        }
        out = std::move(s);
        return hr::ok;
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    }
}

template <class View>
Hr decode(View in, Bytes& out)
{
    try {
        Bytes b;
        b.reserve(in.size() / 4 * 3);
        std::uint32_t acc = 0;
        std::size_t n = 0;    // symbols in the current quantum
        std::size_t pad = 0;  // '=' seen
        for (auto ch : in) {
            char32_t c = static_cast<char32_t>(ch);
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
            if (c == '=') {
                // Padding only completes a quantum of 2 or 3 symbols.
                if (n + pad < 2) return hr::invalid_arg;
                ++pad;
                if (n + pad > 4) return hr::invalid_arg;
                continue;
            }
            int v = sextet(c);
            if (v < 0 || pad) return hr::invalid_arg;  // data after padding
            acc = (acc << 6) | static_cast<std::uint32_t>(v);
            if (++n == 4) {
                b.push_back(static_cast<std::uint8_t>(acc >> 16));
                b.push_back(static_cast<std::uint8_t>(acc >> 8));
                b.push_back(static_cast<std::uint8_t>(acc));
                acc = 0;
                n = 0;
            }
        }
        if (n == 0 && pad == 0) {
            // complete
        } else if (n == 2 && pad == 2) {
            if (acc & 0xF) return hr::invalid_arg;  // unused bits must be zero (RFC 4648 3.5)
            b.push_back(static_cast<std::uint8_t>(acc >> 4));
        } else if (n == 3 && pad == 1) {
            if (acc & 0x3) return hr::invalid_arg;
            b.push_back(static_cast<std::uint8_t>(acc >> 10));
            b.push_back(static_cast<std::uint8_t>(acc >> 2));
        } else {
            return hr::invalid_arg;
        }
        out = std::move(b);
        return hr::ok;
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    }
}

char16_t ascii_lower(char16_t c) { return c >= u'A' && c <= u'Z' ? c + 32 : c; }

bool iequals(std::u16string_view a, std::u16string_view b)
{
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

std::u16string_view scope_text(CloudScope s)
{
    switch (s) {
    case CloudScope::Global: return u"GLOBAL";
    case CloudScope::SiteLocal: return u"SITELOCAL";
    case CloudScope::LinkLocal: return u"LINKLOCAL";
    }
    return {};
}

bool parse_scope(std::u16string_view t, CloudScope& out)
{
    if (iequals(t, u"GLOBAL")) out = CloudScope::Global;
    else if (iequals(t, u"SITELOCAL") || iequals(t, u"site-local")) out = CloudScope::SiteLocal;
    else if (iequals(t, u"LINKLOCAL") || iequals(t, u"link-local")) out = CloudScope::LinkLocal;
    else return false;
    return true;
}

// Unsigned 32-bit decimal (the DWORD-as-string of CLOUDFLAGS).
bool parse_dword(std::u16string_view t, std::uint32_t& out)
{
    if (t.empty() || t.size() > 10) return false;
    std::uint64_t v = 0;
    for (char16_t c : t) {
        if (c < u'0' || c > u'9') return false;
        v = v * 10 + (c - u'0');
    }
    if (v > 0xFFFFFFFFu) return false;
    out = static_cast<std::uint32_t>(v);
    return true;
}

std::u16string dword_text(std::uint32_t v)
{
    std::string s = std::to_string(v);
    return std::u16string(s.begin(), s.end());
}

// One expected child of a document root.
struct Field {
    std::u16string_view name;
    std::u16string_view alt_name;  // accepted alias ({} if none)
    bool base64;
    bool required;
    const xml::Element* el = nullptr;
};

// True if `e` carries dt:dt="bin.base64" with the prefix bound to the datatypes URN on `e` or
// on `root` ([MS-PPSEC] 2.2.6: <xs:attribute ref="dt:dt" use="required"/>).
bool has_base64_type(const xml::Element& e, const xml::Element& root)
{
    for (auto& a : e.attrs) {
        auto colon = a.name.find(u':');
        if (colon == std::u16string::npos || std::u16string_view(a.name).substr(colon + 1) != u"dt")
            continue;
        std::u16string decl = u"xmlns:" + a.name.substr(0, colon);
        if (decl == u"xmlns:xmlns") continue;
        const std::u16string* uri = e.attr(decl);
        if (!uri) uri = root.attr(decl);
        if (uri && *uri == kDatatypesUrn && a.value == kBinBase64) return true;
    }
    return false;
}

// Parses `text` and checks the generic shape: root `root_name` with VERSION (returned in
// `version`) and only namespace declarations otherwise, blank text, children matching `fields`
// (each at most once, no unknown ones, required ones present, no grandchildren, base64 fields
// typed, non-base64 fields without attributes other than namespace declarations).
Hr load(std::u16string_view text, std::u16string_view root_name, std::span<Field> fields,
        xml::Element& root, std::u16string& version)
{
    xml::Limits lim;
    lim.max_chars = kMaxDocumentChars;
    lim.max_depth = 2;
    lim.max_elements = 16;
    lim.max_attributes = 8;
    Hr h = xml::parse(text, hr::invalid_arg, root, lim);
    if (failed(h)) return h;
    if (root.name != root_name || !xml::is_blank(root.text)) return hr::invalid_arg;
    const std::u16string* v = nullptr;
    for (auto& a : root.attrs) {
        if (a.name == u"VERSION") v = &a.value;
        else if (!xml::is_namespace_decl(a.name)) return hr::invalid_arg;
    }
    if (!v) return hr::invalid_arg;
    version = *v;
    for (auto& c : root.children) {
        Field* f = nullptr;
        for (auto& x : fields)
            if (c.name == x.name || (!x.alt_name.empty() && c.name == x.alt_name)) f = &x;
        if (!f || f->el || !c.children.empty()) return hr::invalid_arg;
        f->el = &c;
        if (f->base64) {
            if (!has_base64_type(c, root)) return hr::invalid_arg;
            for (auto& a : c.attrs)
                if (!xml::is_namespace_decl(a.name) && !a.name.ends_with(u":dt")) return hr::invalid_arg;
        } else {
            for (auto& a : c.attrs)
                if (!xml::is_namespace_decl(a.name)) return hr::invalid_arg;
        }
    }
    for (auto& x : fields)
        if (x.required && !x.el) return hr::invalid_arg;
    return hr::ok;
}

std::u16string_view value(const Field& f) { return f.el ? xml::trim(f.el->text) : std::u16string_view{}; }

// Non-empty trimmed text of a required string field.
bool text_field(const Field& f, std::u16string& out)
{
    auto v = value(f);
    if (v.empty()) return false;
    out.assign(v);
    return true;
}

// Decoded non-empty base64 field.
Hr bytes_field(const Field& f, Bytes& out)
{
    Hr h = base64_decode(value(f), out);
    if (failed(h)) return h;
    return out.empty() ? hr::invalid_arg : hr::ok;
}

// Writes <name xmlns:dt=... dt:dt="bin.base64">BASE64</name>.
Hr base64_leaf(xml::Writer& w, std::u16string_view name, const Bytes& b)
{
    std::u16string s;
    Hr h = base64_encode(b, s);
    if (failed(h)) return h;
    w.leaf(name, s, {{u"xmlns:dt", kDatatypesUrn}, {u"dt:dt", kBinBase64}});
    return hr::ok;
}

bool valid_scope(CloudScope s) { return !scope_text(s).empty(); }

// Runs `body` converting std::bad_alloc into hr::out_of_memory.
template <class F>
Hr guarded(F&& body)
{
    try {
        return body();
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    }
}

}  // namespace

Hr base64_encode(const std::uint8_t* data, std::size_t size, std::u16string& out)
{
    return encode(data, size, out);
}
Hr base64_encode(const Bytes& in, std::u16string& out) { return encode(in.data(), in.size(), out); }
Hr base64_encode(const Bytes& in, std::string& out) { return encode(in.data(), in.size(), out); }
Hr base64_decode(std::u16string_view in, Bytes& out) { return decode(in, out); }
Hr base64_decode(std::string_view in, Bytes& out) { return decode(in, out); }

// ---- PEERIDENTITYINFO ([MS-PPSEC] 2.2.6.2: VERSION MUST be "1.0") ----

Hr write_identity_info(const IdentityInfo& in, std::u16string& out)
{
    if (in.idc.empty()) return hr::invalid_arg;
    return guarded([&] {
        xml::Writer w;
        w.start(u"PEERIDENTITYINFO", {{u"VERSION", u"1.0"}});
        Hr h = base64_leaf(w, u"IDC", in.idc);
        if (failed(h)) return h;
        w.end();
        return w.finish(out);
    });
}

Hr parse_identity_info(std::u16string_view text, IdentityInfo& out)
{
    return guarded([&] {
        Field f[] = {{u"IDC", {}, true, true}};
        xml::Element root;
        std::u16string version;
        Hr h = load(text, u"PEERIDENTITYINFO", f, root, version);
        if (failed(h)) return h;
        if (version != u"1.0") return hr::invalid_arg;
        IdentityInfo r;
        h = bytes_field(f[0], r.idc);
        if (failed(h)) return h;
        out = std::move(r);
        return hr::ok;
    });
}

// ---- PEERIDENTITYEXPORT (PeerIdentityExport page: VERSION="1.0", PEERNAME, DATA) ----

Hr write_identity_export(const IdentityExport& in, std::u16string& out)
{
    if (in.peer_name.empty() || in.data.empty()) return hr::invalid_arg;
    return guarded([&] {
        xml::Writer w;
        w.start(u"PEERIDENTITYEXPORT", {{u"VERSION", u"1.0"}});
        w.leaf(u"PEERNAME", in.peer_name);
        Hr h = base64_leaf(w, u"DATA", in.data);
        if (failed(h)) return h;
        w.end();
        return w.finish(out);
    });
}

Hr parse_identity_export(std::u16string_view text, IdentityExport& out)
{
    return guarded([&] {
        // The PeerIdentityImport page shows IDENTITY / IDENTITYDATA for the same fields.
        Field f[] = {{u"PEERNAME", u"IDENTITY", false, true}, {u"DATA", u"IDENTITYDATA", true, true}};
        xml::Element root;
        std::u16string version;
        Hr h = load(text, u"PEERIDENTITYEXPORT", f, root, version);
        if (failed(h)) return h;
        if (version != u"1.0") return hr::invalid_arg;
        IdentityExport r;
        if (!text_field(f[0], r.peer_name)) return hr::invalid_arg;
        h = bytes_field(f[1], r.data);
        if (failed(h)) return h;
        out = std::move(r);
        return hr::ok;
    });
}

// ---- PEERINVITATION ([MS-PPSEC] 2.2.6.1) ----

Hr write_invitation(const Invitation& in, std::u16string& out)
{
    if (in.version != u"1.0" && in.version != u"1.1") return hr::invalid_arg;
    if (in.cloud_name.empty() || !valid_scope(in.scope) || in.cloud_flags > 1) return hr::invalid_arg;
    if (in.password) {
        // "For a password-based invitation this value MUST be 1.1".
        if (in.version != u"1.1" || in.group_peer_name.empty() || !in.gmc.empty())
            return hr::invalid_arg;
    } else if (in.gmc.empty() || !in.group_peer_name.empty() || !in.group_friendly_name.empty()) {
        return hr::invalid_arg;
    }
    return guarded([&] {
        xml::Writer w;
        w.start(u"PEERINVITATION", {{u"VERSION", in.version}});
        w.leaf(u"CLOUDNAME", in.cloud_name);
        w.leaf(u"SCOPE", scope_text(in.scope));
        w.leaf(u"CLOUDFLAGS", dword_text(in.cloud_flags));
        if (in.password) {
            w.leaf(u"GROUPPEERNAME", in.group_peer_name);
            w.leaf(u"GROUPFRIENDLYNAME", in.group_friendly_name);
        } else {
            Hr h = base64_leaf(w, u"GMC", in.gmc);
            if (failed(h)) return h;
        }
        w.end();
        return w.finish(out);
    });
}

Hr parse_invitation(std::u16string_view text, Invitation& out)
{
    return guarded([&] {
        enum { kCloud, kScope, kFlags, kGmc, kGroupName, kFriendly };
        Field f[] = {{u"CLOUDNAME", {}, false, true},     {u"SCOPE", {}, false, true},
                     {u"CLOUDFLAGS", {}, false, true},    {u"GMC", {}, true, false},
                     {u"GROUPPEERNAME", {}, false, false}, {u"GROUPFRIENDLYNAME", {}, false, false}};
        xml::Element root;
        std::u16string version;
        Hr h = load(text, u"PEERINVITATION", f, root, version);
        if (failed(h)) return h;
        if (version != u"1.0" && version != u"1.1") return hr::unsupported_version;
        Invitation r;
        r.version = version;
        if (!text_field(f[kCloud], r.cloud_name) || !parse_scope(value(f[kScope]), r.scope) ||
            !parse_dword(value(f[kFlags]), r.cloud_flags) || r.cloud_flags > 1)
            return hr::invalid_arg;
        bool has_gmc = f[kGmc].el != nullptr;
        bool has_password = f[kGroupName].el || f[kFriendly].el;
        if (has_gmc == has_password) return hr::invalid_arg;  // exactly one of the two forms
        if (has_gmc) {
            h = bytes_field(f[kGmc], r.gmc);
            if (failed(h)) return h;
        } else {
            r.password = true;
            if (version != u"1.1" || !f[kGroupName].el || !f[kFriendly].el ||
                !text_field(f[kGroupName], r.group_peer_name))
                return hr::invalid_arg;
            r.group_friendly_name.assign(value(f[kFriendly]));
        }
        out = std::move(r);
        return hr::ok;
    });
}

// ---- PEERGROUPCONFIG (PeerGroupExportConfig page) ----

Hr write_group_config(const GroupConfig& in, std::u16string& out)
{
    if (in.identity_peer_name.empty() || in.group_peer_name.empty() || in.cloud_name.empty() ||
        !valid_scope(in.scope) || in.gmc.empty())
        return hr::invalid_arg;
    return guarded([&] {
        xml::Writer w;
        w.start(u"PEERGROUPCONFIG", {{u"VERSION", u"1.0"}});
        w.leaf(u"IDENTITYPEERNAME", in.identity_peer_name);
        w.leaf(u"GROUPPEERNAME", in.group_peer_name);
        w.leaf(u"CLOUDNAME", in.cloud_name);
        w.leaf(u"SCOPE", scope_text(in.scope));
        w.leaf(u"CLOUDFLAGS", dword_text(in.cloud_flags));
        Hr h = base64_leaf(w, u"GMC", in.gmc);
        if (failed(h)) return h;
        if (!in.protected_data.empty()) {
            h = base64_leaf(w, u"DATA", in.protected_data);
            if (failed(h)) return h;
        }
        w.end();
        return w.finish(out);
    });
}

Hr parse_group_config(std::u16string_view text, GroupConfig& out)
{
    return guarded([&] {
        enum { kIdentity, kGroup, kCloud, kScope, kFlags, kGmc, kData };
        Field f[] = {{u"IDENTITYPEERNAME", {}, false, true}, {u"GROUPPEERNAME", {}, false, true},
                     {u"CLOUDNAME", {}, false, true},        {u"SCOPE", {}, false, true},
                     {u"CLOUDFLAGS", {}, false, true},       {u"GMC", {}, true, true},
                     {u"DATA", {}, true, false}};
        xml::Element root;
        std::u16string version;
        Hr h = load(text, u"PEERGROUPCONFIG", f, root, version);
        if (failed(h)) return h;
        if (version != u"1.0") return hr::invalid_arg;
        GroupConfig r;
        if (!text_field(f[kIdentity], r.identity_peer_name) ||
            !text_field(f[kGroup], r.group_peer_name) || !text_field(f[kCloud], r.cloud_name) ||
            !parse_scope(value(f[kScope]), r.scope) || !parse_dword(value(f[kFlags]), r.cloud_flags))
            return hr::invalid_arg;
        h = bytes_field(f[kGmc], r.gmc);
        if (failed(h)) return h;
        if (f[kData].el) {
            h = bytes_field(f[kData], r.protected_data);
            if (failed(h)) return h;
        }
        out = std::move(r);
        return hr::ok;
    });
}

}  // namespace pd::p2p
