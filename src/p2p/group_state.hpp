// The private state of pd::p2p::Group, shared by group.cpp and group_invite.cpp.
#pragma once
#include "pd/p2p/group.hpp"
#include "pd/p2p/group_db.hpp"
#include "pd/p2p/pki.hpp"
#include "pd/p2p/security_records.hpp"

#include <algorithm>
#include <chrono>

namespace pd::p2p {

struct Group::State {
    std::unique_ptr<GroupDb> db;
    bool deleted = false;
    pki::Key identity_key;
    std::vector<Bytes> chain;          // this member's GMC chain, root (GRC) first
    pki::CertInfo gmc;                 // the leaf: this member's GMC
    Bytes grc;
    pki::Key group_key;                // only when this node owns the group key
    Ticks delta = 0;
    SecurityProperties props;
    pki::GroupSecurity version = pki::GroupSecurity::v1_0;

    bool is_admin() const { return std::find(gmc.roles.begin(), gmc.roles.end(), pki::kRoleAdmin) != gmc.roles.end(); }
};


// GroupDb keeps the group peer name (kMetaGroupPeerName) as UTF-8.
inline Bytes utf8_bytes(std::u16string_view s)
{
    std::string u = utf8(s);
    return Bytes(u.begin(), u.end());
}

inline Ticks utc_now_ticks()
{
    auto d = std::chrono::system_clock::now().time_since_epoch();
    return kUnixEpochTicks + std::chrono::duration_cast<std::chrono::nanoseconds>(d).count() / 100;
}

}  // namespace pd::p2p
