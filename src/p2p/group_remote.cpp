// [MS-PPSEC] 3.1.7.2: the checks a record received from another node passes before it is stored
// or flooded on: secure peer names, the GMCs of its creator and last modifier (from the
// Membership records, rooted at this group's GRC), the modifier's Admin role when it is not the
// creator, the record's lifetime inside the signer's GMC, the signature, and the extra rules of
// the two Grouping record types. A forged or unauthorised record is refused here, so it is never
// stored and never forwarded.
//
// Decisions where the spec is silent: peer names compare exactly (as stored); a Membership record
// may be signed by the GMC it carries (a member publishing its own credentials) or by any known
// GMC (an issuer storing them, PEER_GROUP_STORE_CREDENTIALS).
#include "pd/p2p/group.hpp"
#include "group_state.hpp"

#include "pd/p2p/group_db.hpp"
#include "pd/p2p/names.hpp"
#include "pd/p2p/record_wire.hpp"
#include "pd/p2p/security_records.hpp"

#include <algorithm>
#include <map>

namespace pd::p2p {
namespace {

// [MS-PNRP] 1.3.1.1: a secure peer name has a 40-hex-digit authority (unsecured ones have "0").
bool secure_peer_name(std::u16string_view name)
{
    PeerName pn;
    return succeeded(parse_peer_name(name, pn)) && pn.secure();
}

bool has_role(const pki::CertInfo& c, const Guid& role)
{
    return std::find(c.roles.begin(), c.roles.end(), role) != c.roles.end();
}

}  // namespace

Group::RemoteVerdict Group::check_remote_record(const Record& r)
{
    std::lock_guard lock(mutex_);
    if (!state_ || state_->deleted || !state_->db)
        return RemoteVerdict::invalid;
    State& s = *state_;
    if (!secure_peer_name(r.creator) || (!r.modified_by.empty() && !secure_peer_name(r.modified_by)))
        return RemoteVerdict::invalid;
    pki::RecordSecurity sec;
    if (failed(pki::parse_record_security(r.security, sec)))
        return RemoteVerdict::invalid;
    pki::CertInfo grc;
    if (failed(pki::parse_cert(s.grc, grc)))
        return RemoteVerdict::invalid;
    const bool deleted = (r.flags & kRecordFlagDeleted) != 0;

    // ---- Security Properties: the group's own record, signed with the GRC key ----------------
    if (r.type == kSecurityPropertiesType) {
        if (deleted || r.creator != group_name_ || (!r.modified_by.empty() && r.modified_by != group_name_))
            return RemoteVerdict::invalid;
        if (r.modified < grc.not_before || r.expires > grc.not_after)
            return RemoteVerdict::invalid;
        SecurityProperties props;
        if (failed(parse_security_properties(r.data, props)) || props.group_peer_name != group_name_ || props.minor > 1)
            return RemoteVerdict::invalid;
        // A joined group learns its properties from this record: the classifier is the one in its
        // peer name. Later versions must keep the classifier and major version.
        PeerName gpn;
        if (failed(parse_peer_name(group_name_, gpn)) || props.classifier != gpn.classifier ||
            (s.ready && (props.classifier != s.props.classifier || props.major != s.props.major)))
            return RemoteVerdict::invalid;
        if (props.minor == 1 && (props.auth_flags & ~3u) != 0)
            return RemoteVerdict::invalid;
        std::vector<Record> existing;
        s.db->list_records(&kSecurityPropertiesType, true, existing);
        if (!existing.empty() && existing.front().id != r.id)
            return RemoteVerdict::invalid;
        const auto version = props.minor ? pki::GroupSecurity::v1_1 : pki::GroupSecurity::v1_0;
        return succeeded(pki::verify_record_security(r, grc.spki, version)) ? RemoteVerdict::valid
                                                                            : RemoteVerdict::invalid;
    }
    // Before the Security Properties record the group's security version (the signature digest)
    // is unknown: everything else waits for it.
    if (!s.ready)
        return RemoteVerdict::defer;

    // ---- the Membership List: peer name -> its GMCs (leaf of a chain rooted at our GRC) -----------
    std::multimap<std::u16string, pki::CertInfo> gmcs;
    auto add_chain = [&](const Record& m) {
        std::vector<pki::CertInfo> ordered;
        if (succeeded(membership_chain(m, 0, ordered)) && ordered.front().spki == grc.spki)
            gmcs.emplace(ordered.back().subject_peer_name, ordered.back());
    };
    std::vector<Record> members;
    s.db->list_records(&kMembershipType, true, members);
    for (const auto& m : members)
        if (!(m.flags & kRecordFlagDeleted))
            add_chain(m);
    if (r.type == kMembershipType) {
        // 3.1.7.2: not deleted, the version of the group, a valid GMC chain rooted at our GRC.
        if (deleted)
            return RemoteVerdict::invalid;
        std::vector<pki::CertInfo> ordered;
        if (failed(membership_chain(r, 0, ordered)) || ordered.front().spki != grc.spki)
            return RemoteVerdict::invalid;
        gmcs.emplace(ordered.back().subject_peer_name, ordered.back());
    }
    auto gmc_of = [&](const std::u16string& name, const Bytes& serial) -> const pki::CertInfo* {
        auto [a, b] = gmcs.equal_range(name);
        for (auto it = a; it != b; ++it)
            if (it->second.serial == serial)
                return &it->second;
        return nullptr;
    };
    const pki::CertInfo* creator = gmc_of(r.creator, sec.creator_serial);
    const std::u16string& toucher_name = r.modified_by.empty() ? r.creator : r.modified_by;
    const pki::CertInfo* toucher = gmc_of(toucher_name, sec.modifier_serial);
    if (!creator || !toucher)
        return RemoteVerdict::defer;  // its Membership record has not arrived (yet)
    if (r.modified < toucher->not_before || r.expires > toucher->not_after)
        return RemoteVerdict::invalid;
    if (!r.modified_by.empty() && r.modified_by != r.creator && !has_role(*toucher, pki::kRoleAdmin))
        return RemoteVerdict::invalid;
    return succeeded(pki::verify_record_security(r, toucher->spki, s.version)) ? RemoteVerdict::valid
                                                                                : RemoteVerdict::invalid;
}

Hr Group::all_records(std::vector<Record>& out)
{
    std::lock_guard lock(mutex_);
    if (!state_ || state_->deleted || !state_->db)
        return hr::invalid_group;
    return state_->db->list_records(nullptr, true, out);
}

}  // namespace pd::p2p
