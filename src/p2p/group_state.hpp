// The private state of pd::p2p::Group, shared by group.cpp and group_invite.cpp.
#pragma once
#include "pd/p2p/group.hpp"
#include "pd/p2p/group_db.hpp"
#include "pd/p2p/pki.hpp"
#include "pd/p2p/security_records.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <thread>

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

    // Changes made by other processes (group_watch.cpp): the records as last seen (id ->
    // version, flags) and the database version they correspond to. Kept current by this
    // process's own writes, so only other processes' changes produce events from the watcher.
    struct Seen {
        std::uint32_t version = 0, flags = 0;
        Guid type;
    };
    std::map<Guid, Seen> seen;
    std::uint64_t seen_version = 0;
    bool watching = false;
    std::thread watcher;
    std::condition_variable watch_cv;
    bool stop_watch = false;

    void note(const Record& r)
    {
        if (watching) {
            seen[r.id] = {r.version, r.flags, r.type};
            seen_version = db->data_version();
        }
    }

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
