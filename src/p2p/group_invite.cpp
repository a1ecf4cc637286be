// pd::p2p::Group: invitations, credentials and configuration export/import ([MS-PPSEC] 2.2.6,
// 3.1.4.5, 3.1.7.5; [doc] identity-and-group-configuration-import-and-export).
#include "group_state.hpp"

#include "pd/p2p/documents.hpp"
#include "pd/p2p/identity.hpp"
#include "pd/p2p/names.hpp"


#include <cstring>
#include <filesystem>

namespace pd::p2p {

namespace {

constexpr std::uint32_t kAuthGmc = 0x1, kAuthPassword = 0x2;

CloudScope scope_of(std::u16string_view cloud)
{
    // [MS-PPSEC] 2.2.1.1: "Global_", "LinkLocal_..." / "SiteLocal_..." clouds.
    if (cloud.rfind(u"LinkLocal_", 0) == 0)
        return CloudScope::LinkLocal;
    if (cloud.rfind(u"SiteLocal_", 0) == 0)
        return CloudScope::SiteLocal;
    return CloudScope::Global;
}

// The protected part of PEERGROUPCONFIG (our own layout, docs/compat.md): tagged sections
//   "OP2C" u32 count, then {u32 tag, u32 length, bytes} with
//   tag 1 = identity PFX (identity key + IDC, password-protected)
//   tag 2 = group PFX (GRC key + GRC, password-protected; only for the group's owner)
//   tag 3 = the Security Properties record in the [MS-PPGRH] 2.2.1.9 record layout
void put32(Bytes& out, std::uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

Bytes pack_sections(const std::vector<std::pair<std::uint32_t, Bytes>>& sections)
{
    Bytes out{'O', 'P', '2', 'C'};
    put32(out, static_cast<std::uint32_t>(sections.size()));
    for (auto& [tag, data] : sections) {
        put32(out, tag);
        put32(out, static_cast<std::uint32_t>(data.size()));
        out.insert(out.end(), data.begin(), data.end());
    }
    return out;
}

bool unpack_sections(const Bytes& in, std::vector<std::pair<std::uint32_t, Bytes>>& out)
{
    auto get32 = [&](size_t at) {
        return static_cast<std::uint32_t>(in[at]) | (static_cast<std::uint32_t>(in[at + 1]) << 8) |
               (static_cast<std::uint32_t>(in[at + 2]) << 16) | (static_cast<std::uint32_t>(in[at + 3]) << 24);
    };
    if (in.size() < 8 || std::memcmp(in.data(), "OP2C", 4) != 0)
        return false;
    std::uint32_t n = get32(4);
    if (n > 16)
        return false;
    size_t pos = 8;
    for (std::uint32_t i = 0; i < n; ++i) {
        if (in.size() - pos < 8)
            return false;
        std::uint32_t tag = get32(pos), len = get32(pos + 4);
        pos += 8;
        if (in.size() - pos < len)
            return false;
        out.emplace_back(tag, Bytes(in.begin() + static_cast<std::ptrdiff_t>(pos),
                                    in.begin() + static_cast<std::ptrdiff_t>(pos + len)));
        pos += len;
    }
    return pos == in.size();
}

}  // namespace

Hr Group::issue_chain(const Bytes& subject_spki, std::u16string_view subject, std::u16string_view subject_friendly,
                      std::vector<Guid> roles, const Ticks* not_before, const Ticks* not_after, Bytes& chain_p7)
{
    State& s = *state_;
    if (s.chain.empty())
        return hr::group_not_ready;  // a password join before its GMC was issued
    if (roles.empty())
        roles = {pki::kRoleMember};
    for (const auto& r : roles) {
        if (r != pki::kRoleAdmin && r != pki::kRoleMember && r != pki::kRoleInvitingMember)
            return hr::invalid_arg;
        // A member may only issue roles its own GMC allows ([MS-PPSEC] 2.2.5.3).
        if (!pki::can_issue(s.gmc.roles, r))
            return hr::not_authorized;
    }
    Ticks now = utc_now_ticks() / kTicksPerSecond * kTicksPerSecond;  // certificates hold whole seconds
    Ticks from = not_before ? *not_before : now;
    // A child may not outlive its issuer: the default and the limit is the issuer's expiry.
    Ticks to = not_after ? *not_after : s.gmc.not_after;
    if (to <= now || to <= from)
        return hr::invalid_arg;
    to = std::min(to, s.gmc.not_after);
    from = std::max(from, s.gmc.not_before);
    pki::GmcRequest req;
    req.subject_spki = subject_spki;
    req.subject_peer_name = std::u16string(subject);
    req.subject_friendly_name = std::u16string(subject_friendly);
    req.roles = roles;
    req.classifiers = pki::classifiers_for_roles(roles);
    req.not_before = from;
    req.not_after = to;
    Bytes gmc;
    std::vector<Bytes> chain;
    // The new GMC is issued by this member with its identity key, extending its own chain
    // (GRC -> ... -> this member's GMC -> new GMC, [MS-PPSEC] 3.1.7.5), at most 24 links.
    if (s.chain.size() >= pki::kMaxGmcChain)
        return hr::chain_too_long;
    if (Hr h = pki::make_gmc(s.identity_key, s.chain.back(), req, gmc); failed(h))
        return h;
    chain = s.chain;
    chain.push_back(gmc);
    chain_p7 = pki::pkcs7_certs(chain);
    return chain_p7.empty() ? hr::out_of_memory : hr::ok;
}

Hr Group::create_invitation(std::u16string_view identity_xml, const Ticks* expiration, const std::vector<Guid>& roles,
                            std::u16string& xml)
{
    Bytes idc;
    std::u16string subject;
    if (failed(parse_identity_xml(identity_xml, idc, subject)))
        return hr::invalid_arg;
    pki::CertInfo ci;
    if (failed(pki::parse_cert(idc, ci)))
        return hr::invalid_arg;
    std::lock_guard lock(mutex_);
    if (state_->deleted || !state_->db)
        return hr::invalid_arg;
    Bytes chain_p7;
    if (Hr h = issue_chain(ci.spki, subject, ci.subject_name, roles, nullptr, expiration, chain_p7); failed(h))
        return h;
    Invitation inv;
    inv.version = state_->props.minor ? u"1.1" : u"1.0";
    inv.cloud_name = state_->props.cloud;
    inv.scope = scope_of(inv.cloud_name);
    inv.cloud_flags = 0;
    inv.gmc = std::move(chain_p7);
    return write_invitation(inv, xml);
}

Hr Group::create_password_invitation(std::u16string& xml)
{
    std::lock_guard lock(mutex_);
    if (state_->deleted || !state_->db)
        return hr::invalid_arg;
    const auto& p = state_->props;
    // Only a password group has one ([doc] PeerGroupCreatePasswordInvitation); issuing it needs
    // the right to issue the password role.
    if (!p.minor || !(p.auth_flags & kAuthPassword))
        return hr::invalid_arg;
    if (!pki::can_issue(state_->gmc.roles, p.password_role))
        return hr::not_authorized;
    Invitation inv;
    inv.version = u"1.1";
    inv.cloud_name = p.cloud;
    inv.scope = scope_of(p.cloud);
    inv.password = true;
    inv.group_peer_name = p.group_peer_name;
    inv.group_friendly_name = p.friendly_name;
    return write_invitation(inv, xml);
}

Hr Group::issue_credentials(std::u16string_view subject, const MemberInfo* cred, bool store_credentials,
                            std::u16string& xml)
{
    std::lock_guard lock(mutex_);
    if (state_->deleted || !state_->db)
        return hr::invalid_arg;
    State& s = *state_;
    // The subject's key: from its published Membership record, else from an identity of this
    // user ([MS-PPSEC] 3.1.4.5: a cached GMC supplies every omitted value).
    Bytes spki;
    std::u16string friendly;
    std::vector<Guid> roles;
    Ticks from = 0, to = 0;
    bool cached = false;
    std::vector<Record> recs;
    s.db->list_records(&kMembershipType, false, recs);
    for (auto& r : recs) {
        std::vector<pki::CertInfo> ordered;
        if (succeeded(membership_chain(r, utc_now_ticks(), ordered)) && ordered.back().subject_peer_name == subject) {
            spki = ordered.back().spki;
            friendly = ordered.back().subject_name;
            roles = ordered.back().roles;
            from = ordered.back().not_before;
            to = ordered.back().not_after;
            cached = true;
            break;
        }
    }
    // [MS-PPSEC] 3.1.4.5: without a cached GMC the application must supply the subject's key.
    if (!cached && (!cred || cred->spki.empty()))
        return hr::identity_not_found;
    if (cred && !cred->spki.empty()) {
        if (cached && cred->spki != spki)
            return hr::invalid_arg;  // "MUST match the Public Key in the existing GMC"
        if (!cached) {
            spki = cred->spki;
            roles = {pki::kRoleMember};
        }
    }
    if (cred) {
        if (!cred->roles.empty())
            roles = cred->roles;
        if (!cred->friendly_name.empty())
            friendly = cred->friendly_name;
        if (cred->valid_to) {
            from = cred->valid_from;
            to = cred->valid_to;
        }
    }
    Bytes chain_p7;
    if (Hr h = issue_chain(spki, subject, friendly, roles, from ? &from : nullptr, to ? &to : nullptr, chain_p7);
        failed(h))
        return h;
    if (store_credentials) {
        Ticks now = utc_now_ticks() + s.delta;
        if (Hr h = publish_membership(subject, chain_p7, now, now + pki::kInfiniteLifetime); failed(h))
            return h;
    }
    Invitation inv;
    inv.version = s.props.minor ? u"1.1" : u"1.0";
    inv.cloud_name = s.props.cloud;
    inv.scope = scope_of(inv.cloud_name);
    inv.gmc = std::move(chain_p7);
    return write_invitation(inv, xml);
}

Hr Group::export_config(std::u16string_view password, std::u16string& xml)
{
    std::lock_guard lock(mutex_);
    if (state_->deleted || !state_->db)
        return hr::invalid_arg;
    State& s = *state_;
    if (s.chain.empty() && failed(reload_chain()))
        return hr::group_not_ready;  // a password join holds no GMC to export yet
    IdentityRow row;
    if (failed(store_->get_identity(identity_, row)))
        return hr::identity_not_found;
    std::vector<std::pair<std::uint32_t, Bytes>> sections;
    Bytes id_pfx = pki::export_pfx(s.identity_key, row.cert, password);
    if (id_pfx.empty())
        return hr::no_key_access;
    sections.emplace_back(1, std::move(id_pfx));
    // The owner's configuration carries the group key too ([doc] configuration export).
    if (!s.group_key.empty()) {
        Bytes g_pfx = pki::export_pfx(s.group_key, s.grc, password);
        if (g_pfx.empty())
            return hr::no_key_access;
        sections.emplace_back(2, std::move(g_pfx));
    }
    std::vector<Record> recs;
    if (succeeded(s.db->list_records(&kSecurityPropertiesType, false, recs)) && !recs.empty())
        sections.emplace_back(3, serialize_record(recs.front()));
    GroupConfig cfg;
    cfg.identity_peer_name = identity_;
    cfg.group_peer_name = group_name_;
    cfg.cloud_name = s.props.cloud;
    cfg.scope = scope_of(cfg.cloud_name);
    cfg.cloud_flags = 0;
    cfg.gmc = pki::pkcs7_certs(s.chain);
    cfg.protected_data = pack_sections(sections);
    return write_group_config(cfg, xml);
}

Hr Group::import_config(const std::shared_ptr<UserStore>& store, std::u16string_view xml, std::u16string_view password,
                        bool overwrite, std::u16string& identity, std::u16string& group_name)
{
    try {
        GroupConfig cfg;
        if (failed(parse_group_config(xml, cfg)))
            return hr::invalid_arg;
        std::vector<std::pair<std::uint32_t, Bytes>> sections;
        if (!unpack_sections(cfg.protected_data, sections))
            return hr::invalid_arg;
        const Bytes* id_pfx = nullptr;
        const Bytes* g_pfx = nullptr;
        const Bytes* sec = nullptr;
        for (auto& [tag, data] : sections)
            (tag == 1 ? id_pfx : tag == 2 ? g_pfx : sec) = &data;
        if (!id_pfx || !sec)
            return hr::invalid_arg;
        pki::Key id_key, group_key;
        Bytes idc, grc;
        if (Hr h = pki::import_pfx(*id_pfx, password, id_key, idc); failed(h))
            return hr::invalid_arg;  // a wrong password included ([doc]: E_INVALIDARG)
        if (g_pfx) {
            if (Hr h = pki::import_pfx(*g_pfx, password, group_key, grc); failed(h))
                return hr::invalid_arg;  // a wrong password included ([doc]: E_INVALIDARG)
        }
        // The configuration must be self-consistent: the GMC chain certifies the identity key for
        // the named group, and the Security Properties record names the same group.
        std::vector<Bytes> certs;
        std::vector<pki::CertInfo> ordered;
        std::vector<Bytes> ordered_der;
        if (failed(pki::parse_pkcs7_certs(cfg.gmc, certs)) ||
            failed(pki::verify_gmc_chain(certs, utc_now_ticks(), ordered, &ordered_der)) || ordered.empty() ||
            ordered.back().spki != id_key.spki_der() || ordered.back().group_peer_name != cfg.group_peer_name ||
            ordered.back().subject_peer_name != cfg.identity_peer_name)
            return hr::invalid_arg;
        Record sec_rec;
        SecurityProperties sp;
        if (failed(parse_record(*sec, sec_rec)) || sec_rec.type != kSecurityPropertiesType ||
            failed(parse_security_properties(sec_rec.data, sp)) || sp.group_peer_name != cfg.group_peer_name)
            return hr::invalid_arg;

        // The identity: imported unless this user already has it (then it must be the same key).
        IdentityRow existing;
        if (succeeded(store->get_identity(cfg.identity_peer_name, existing))) {
            pki::CertInfo ci;
            if (failed(pki::parse_cert(existing.cert, ci)) || ci.spki != id_key.spki_der())
                return hr::already_exists;
        } else {
            pki::CertInfo ci;
            if (failed(pki::parse_cert(idc, ci)))
                return hr::invalid_arg;
            IdentityRow row;
            row.peer_name = cfg.identity_peer_name;
            PeerName pn;
            if (failed(parse_peer_name(row.peer_name, pn)))
                return hr::invalid_arg;
            row.classifier = pn.classifier;
            row.friendly_name = ci.subject_name.empty() ? row.peer_name : ci.subject_name;
            row.cert = idc;
            row.created = utc_now_ticks();
            Bytes clear = id_key.private_pkcs8_der();
            WipeOnExit w{clear};
            if (Hr h = store->protector().protect(clear, row.sealed_key); failed(h))
                return h;
            if (Hr h = store->add_identity(row); failed(h))
                return h;
        }

        GroupRow grow;
        if (succeeded(store->get_group(cfg.identity_peer_name, cfg.group_peer_name, grow))) {
            if (!overwrite)
                return hr::already_exists;
            if (Hr h = destroy(store, cfg.identity_peer_name, cfg.group_peer_name); failed(h))
                return h;
        }
        std::string path = fresh_group_path(*store, cfg.identity_peer_name, cfg.group_peer_name);
        std::unique_ptr<GroupDb> db;
        if (Hr h = GroupDb::create(path, db); failed(h))
            return h;
        Hr h = db->put_meta(kMetaGroupPeerName, utf8_bytes(cfg.group_peer_name));
        if (succeeded(h))
            h = db->put_meta(kMetaIdentity, u16_bytes(cfg.identity_peer_name));
        if (succeeded(h))
            h = db->put_meta(kMetaGmc, pki::pkcs7_certs(ordered_der));
        if (succeeded(h))
            h = db->put_meta(kMetaGrc, grc.empty() ? ordered_der.front() : grc);
        if (succeeded(h) && !group_key.empty()) {
            Bytes clear = group_key.private_pkcs8_der(), sealed;
            WipeOnExit w{clear};
            h = store->protector().protect(clear, sealed);
            if (succeeded(h))
                h = db->put_meta(kMetaGroupKey, sealed);
        }
        if (succeeded(h))
            h = db->insert_record(sec_rec);
        db.reset();
        if (succeeded(h))
            h = store->add_group({cfg.identity_peer_name, cfg.group_peer_name, sp.friendly_name, path}, true);
        if (failed(h)) {
            GroupDb::destroy(path);
            return h;
        }
        // The member's own Membership record, published on first open.
        std::shared_ptr<Group> g;
        if (succeeded(open(store, cfg.identity_peer_name, cfg.group_peer_name, g))) {
            std::lock_guard lock(g->mutex_);
            Ticks now = utc_now_ticks() + g->state_->delta;
            g->publish_membership(cfg.identity_peer_name, pki::pkcs7_certs(ordered_der), now,
                                  now + pki::kInfiniteLifetime);
        }
        identity = cfg.identity_peer_name;
        group_name = cfg.group_peer_name;
        return hr::ok;
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    } catch (const std::filesystem::filesystem_error&) {
        return hr::database_accessdenied;
    }
}

Hr parse_invitation(std::u16string_view xml, InvitationInfo& out)
{
    Invitation inv;
    if (Hr h = parse_invitation(xml, inv); failed(h))
        return h;
    if (inv.version != u"1.0" && inv.version != u"1.1")
        return hr::unsupported_version;
    InvitationInfo info;
    info.cloud_name = inv.cloud_name;
    info.scope = static_cast<std::uint32_t>(inv.scope);
    info.cloud_flags = inv.cloud_flags;
    if (inv.password) {
        PeerName pn;
        if (failed(parse_peer_name(inv.group_peer_name, pn)) || !pn.secure())
            return hr::invalid_arg;
        info.group_peer_name = inv.group_peer_name;
        info.group_friendly_name = inv.group_friendly_name;
        info.auth_scheme = kAuthPassword;
        out = std::move(info);
        return hr::ok;
    }
    std::vector<Bytes> certs;
    if (failed(pki::parse_pkcs7_certs(inv.gmc, certs)) || certs.empty())
        return hr::invalid_arg;
    std::vector<pki::CertInfo> ordered;
    // An invitation whose chain does not verify (signatures, roles, times) is not trusted.
    if (failed(pki::verify_gmc_chain(certs, utc_now_ticks(), ordered)) || ordered.empty())
        return hr::invitation_not_trusted;
    const auto& leaf = ordered.back();
    info.group_peer_name = leaf.group_peer_name;
    info.group_friendly_name = ordered.front().subject_name;  // the GRC names the group
    info.issuer_peer_name = leaf.issuer_peer_name;
    info.issuer_friendly_name = leaf.issuer_name;
    info.subject_peer_name = leaf.subject_peer_name;
    info.subject_friendly_name = leaf.subject_name;
    info.valid_from = leaf.not_before;
    info.valid_to = leaf.not_after;
    info.roles = leaf.roles;
    info.classifiers = leaf.classifiers;
    info.subject_spki = leaf.spki;
    info.auth_scheme = kAuthGmc;
    out = std::move(info);
    return hr::ok;
}

}  // namespace pd::p2p
