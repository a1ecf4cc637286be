// pd::p2p::Group: what the network layer (src/p2pnet) needs from a group — records from peers,
// network status and events, peer time from the graph, remembered member addresses, the node's
// credentials ([MS-PPSEC] 3.1, 3.1.7.2; [MS-PPGRH] 3.1.5.2.2).
#include "group_state.hpp"

#include "pd/p2p/identity.hpp"

#include <algorithm>
#include <cstring>

namespace pd::p2p {

namespace {
constexpr std::size_t kMaxRememberedAddresses = 16;
}

bool Group::ready()
{
    std::lock_guard lock(mutex_);
    if (!state_->ready && !state_->deleted && state_->db) {
        // Synchronised by another process of the user (the group host)? A password join first
        // needs the GMC that process was issued.
        if (state_->chain.empty() && failed(reload_chain()))
            return false;
        reload_properties();
    }
    return state_->ready;
}

Bytes Group::local_chain()
{
    std::lock_guard lock(mutex_);
    if (state_->deleted || !state_->db)
        return {};
    if (state_->chain.empty())
        reload_chain();
    return state_->chain.empty() ? Bytes{} : pki::pkcs7_certs(state_->chain);
}

std::optional<std::u16string> Group::join_password()
{
    std::lock_guard lock(mutex_);
    State& s = *state_;
    if (s.deleted || !s.db || !s.chain.empty())
        return std::nullopt;
    Bytes sealed, clear;
    WipeOnExit w{clear};
    if (failed(s.db->get_meta(kMetaJoinPassword, sealed)) || sealed.empty() ||
        failed(store_->protector().unprotect(sealed, clear)))
        return std::nullopt;
    return bytes_u16(clear);
}

Hr Group::accept_issued_chain(const Bytes& chain_p7)
{
    std::vector<Bytes> certs, ordered_der;
    std::vector<pki::CertInfo> ordered;
    if (failed(pki::parse_pkcs7_certs(chain_p7, certs)) || certs.empty() ||
        failed(pki::verify_gmc_chain(certs, utc_now_ticks(), ordered, &ordered_der)) || ordered.size() < 2)
        return hr::invalid_credential;
    std::lock_guard lock(mutex_);
    State& s = *state_;
    if (s.deleted || !s.db)
        return hr::invalid_group;
    const pki::CertInfo& leaf = ordered.back();
    // [MS-PPSEC] 3.2.5.2.4: for this group, this identity and this identity's key.
    if (leaf.group_peer_name != group_name_ || leaf.subject_peer_name != identity_ ||
        leaf.spki != s.identity_key.spki_der())
        return hr::not_authorized;
    Hr h = s.db->put_meta(kMetaGmc, pki::pkcs7_certs(ordered_der));
    if (succeeded(h))
        h = s.db->put_meta(kMetaGrc, ordered_der.front());
    if (succeeded(h))
        h = s.db->put_meta(kMetaJoinPassword, {});
    if (failed(h))
        return h;
    return reload_chain();
}

std::optional<std::string> Group::password_hash_for_issuing()
{
    std::lock_guard lock(mutex_);
    const State& s = *state_;
    constexpr std::uint32_t kAuthPassword = 0x2;  // PEER_GROUP_PASSWORD_AUTHENTICATION
    if (s.deleted || !s.db || !s.ready || s.chain.empty() || !s.props.minor || !(s.props.auth_flags & kAuthPassword) ||
        s.props.password_hash.empty() || !pki::can_issue(s.gmc.roles, s.props.password_role))
        return std::nullopt;
    return utf8(s.props.password_hash);
}

Hr Group::issue_for_password(const Bytes& spki, std::u16string_view subject, std::u16string_view friendly,
                             Bytes& chain_p7)
{
    std::lock_guard lock(mutex_);
    State& s = *state_;
    if (s.deleted || !s.db || !s.ready || s.chain.empty())
        return hr::group_not_ready;
    Ticks now = utc_now_ticks() / kTicksPerSecond * kTicksPerSecond;
    return issue_chain(spki, subject, friendly, {s.props.password_role}, &now, nullptr, chain_p7);
}

std::optional<std::u16string> Group::member_by_key(const Bytes& spki)
{
    std::lock_guard lock(mutex_);
    State& s = *state_;
    if (s.deleted || !s.db)
        return std::nullopt;
    std::vector<Record> recs;
    if (failed(s.db->list_records(&kMembershipType, false, recs)))
        return std::nullopt;
    for (const auto& r : recs) {
        std::vector<pki::CertInfo> ordered;
        if (succeeded(membership_chain(r, utc_now_ticks(), ordered)) && ordered.back().spki == spki &&
            ordered.back().group_peer_name == group_name_)
            return ordered.back().subject_peer_name;
    }
    return std::nullopt;
}

Hr Group::stored_record(const Guid& id, Record& out)
{
    std::lock_guard lock(mutex_);
    if (state_->deleted || !state_->db)
        return hr::invalid_group;
    return state_->db->get_record(id, out);
}

Hr Group::apply_remote(const Record& r, bool& changed)
{
    changed = false;
    std::vector<GroupEvent> events;
    {
        std::lock_guard lock(mutex_);
        State& s = *state_;
        if (s.deleted || !s.db)
            return hr::invalid_group;
        Record old;
        bool existed = succeeded(s.db->get_record(r.id, old));
        if (Hr h = s.db->merge_record(r, changed); failed(h) || !changed)
            return h;
        s.note(r);
        bool deleted = (r.flags & kFlagDeleted) != 0;
        if (r.type == kSecurityPropertiesType) {
            bool was_ready = s.ready;
            if (succeeded(reload_properties())) {
                if (!was_ready) {
                    // A joiner's first synchronisation: it publishes its own Membership record, so
                    // that every member can check its signatures ([MS-PPSEC] 3.1.4.2, 3.1.7.2).
                    Ticks now = utc_now_ticks() + s.delta;
                    if (Hr h = publish_membership(identity_, pki::pkcs7_certs(s.chain), now, s.gmc.not_after); failed(h))
                        return h;
                } else {
                    GroupEvent e;
                    e.type = kEventPropertyChanged;
                    events.push_back(e);
                }
            }
        } else if (r.type == kMembershipType) {
            // A member's (new or renewed) GMC: MEMBER_CHANGED joined the first time, updated after.
            std::vector<pki::CertInfo> chain;
            if (!deleted && succeeded(membership_chain(r, 0, chain))) {
                GroupEvent e;
                e.type = kEventMemberChanged;
                e.change = existed ? kMemberUpdated : kMemberJoined;
                e.identity = chain.back().subject_peer_name;
                if (e.identity != identity_)
                    events.push_back(e);
                else
                    adopt_renewed_gmc(r);
            }
        } else if (!is_reserved_record_type(r.type)) {
            if (!existed) {
                if (!deleted)
                    events.push_back(record_event(kRecordAdded, r));
            } else if (deleted && !(old.flags & kFlagDeleted)) {
                events.push_back(record_event(kRecordDeleted, r));
            } else if (!deleted) {
                events.push_back(record_event(kRecordUpdated, r));
            }
        }
    }
    for (auto& e : events)
        notify(e);
    return hr::ok;
}

// [MS-PPSEC] 3.1.4.5: an administrator published new credentials for this member (a later
// expiry or other roles). A chain that validates now, certifies this identity and key, and is
// newer than the local GMC becomes the local GMC (the next connections show it; an expired local
// GMC is renewed this way). Call with mutex_ held.
void Group::adopt_renewed_gmc(const Record& membership)
{
    State& s = *state_;
    std::vector<pki::CertInfo> ordered;
    std::vector<Bytes> ordered_der;
    if (failed(membership_chain(membership, utc_now_ticks(), ordered, &ordered_der)))
        return;
    const pki::CertInfo& leaf = ordered.back();
    if (leaf.subject_peer_name != identity_ || leaf.spki != s.identity_key.spki_der() ||
        leaf.group_peer_name != group_name_ || leaf.serial == s.gmc.serial || leaf.not_before < s.gmc.not_before)
        return;
    if (failed(s.db->put_meta(kMetaGmc, pki::pkcs7_certs(ordered_der))))
        return;
    s.chain = std::move(ordered_der);
    s.gmc = leaf;
}

bool Group::sign_own(Record& r)
{
    std::lock_guard lock(mutex_);
    State& s = *state_;
    if (s.deleted || !s.db || !s.ready || r.creator != identity_ || (!r.modified_by.empty() && r.modified_by != identity_))
        return false;
    r.expires = std::min(r.expires, s.gmc.not_after);
    r.security.clear();
    return succeeded(pki::record_security(r, s.gmc.serial, s.gmc.serial, s.identity_key, s.version, r.security));
}

void Group::set_network_status(std::uint32_t status)
{
    bool changed;
    {
        std::lock_guard lock(mutex_);
        changed = state_->network_status != status;
        state_->network_status = status;
    }
    if (changed) {
        GroupEvent e;
        e.type = kEventStatusChanged;
        e.status = status;
        notify(e);
    }
}

// The group keeps peer = UTC + delta; the graph's Peer Time Delta is UTC - peer (3.1.5.2.2).
Hr Group::set_graph_time_delta(Ticks graph_delta)
{
    std::lock_guard lock(mutex_);
    State& s = *state_;
    if (s.deleted || !s.db)
        return hr::invalid_group;
    if (s.delta == -graph_delta)
        return hr::ok;
    s.delta = -graph_delta;
    return s.db->put_meta(kMetaTimeDelta, put_i64(s.delta));
}

Ticks Group::graph_time_delta()
{
    std::lock_guard lock(mutex_);
    return -state_->delta;
}

// Meta value: the addresses as UTF-8, NUL-separated, newest first.
Hr Group::remembered_addresses(std::vector<std::string>& out)
{
    out.clear();
    std::lock_guard lock(mutex_);
    if (state_->deleted || !state_->db)
        return hr::invalid_group;
    Bytes v;
    if (failed(state_->db->get_meta(kMetaAddresses, v)))
        return hr::ok;
    std::string cur;
    for (auto b : v) {
        if (b == 0) {
            if (!cur.empty())
                out.push_back(cur);
            cur.clear();
        } else {
            cur.push_back(static_cast<char>(b));
        }
    }
    if (!cur.empty())
        out.push_back(cur);
    return hr::ok;
}

Hr Group::remember_address(const std::string& address)
{
    std::vector<std::string> list;
    if (Hr h = remembered_addresses(list); failed(h))
        return h;
    if (!list.empty() && list.front() == address)
        return hr::ok;
    list.erase(std::remove(list.begin(), list.end(), address), list.end());
    list.insert(list.begin(), address);
    if (list.size() > kMaxRememberedAddresses)
        list.resize(kMaxRememberedAddresses);
    Bytes v;
    for (auto& a : list) {
        v.insert(v.end(), a.begin(), a.end());
        v.push_back(0);
    }
    std::lock_guard lock(mutex_);
    if (state_->deleted || !state_->db)
        return hr::invalid_group;
    return state_->db->put_meta(kMetaAddresses, v);
}

Hr Group::credentials(Bytes& key_pkcs8, Bytes& idc_der, Bytes& gmc_chain_p7)
{
    IdentityKeys id;
    if (Hr h = load_identity(*store_, identity_, id); failed(h))
        return h == hr::not_found ? hr::identity_not_found : h;
    key_pkcs8 = std::move(id.private_pkcs8);
    idc_der = id.row.cert;
    std::lock_guard lock(mutex_);
    gmc_chain_p7 = state_->chain.empty() ? Bytes{} : pki::pkcs7_certs(state_->chain);
    return hr::ok;
}

}  // namespace pd::p2p
