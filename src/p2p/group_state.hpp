// The private state of pd::p2p::Group and the helpers its files share (group.cpp,
// group_invite.cpp, group_watch.cpp).
#pragma once
#include "pd/p2p/group.hpp"
#include "pd/p2p/group_db.hpp"
#include "pd/p2p/pki.hpp"
#include "pd/p2p/security_records.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <condition_variable>
#include <map>
#include <thread>

namespace pd::p2p {

// GroupDb meta keys of a group database (see group.cpp's header comment).
inline constexpr const char* kMetaIdentity = "identity";
inline constexpr const char* kMetaGmc = "gmc";
inline constexpr const char* kMetaGrc = "grc";
inline constexpr const char* kMetaGroupKey = "group_key";
inline constexpr const char* kMetaTimeDelta = "peer_time_delta";
inline constexpr const char* kMetaAddresses = "peer_addresses";  // group_net.cpp
// A password join waiting for its GMC: the password, sealed with the user's KeyProtector.
inline constexpr const char* kMetaJoinPassword = "join_password";

// PEER_GROUP_EVENT_* and PEER_RECORD_CHANGE_TYPE values of p2p.h; PEER_RECORD_FLAG_DELETED.
inline constexpr std::uint32_t kEventStatusChanged = 1, kEventPropertyChanged = 2, kEventRecordChanged = 3;
inline constexpr std::uint32_t kEventMemberChanged = 8;
inline constexpr std::uint32_t kMemberUpdated = 3, kMemberJoined = 4;  // PEER_MEMBER_CHANGE_TYPE
inline constexpr std::uint32_t kRecordAdded = 1, kRecordUpdated = 2, kRecordDeleted = 3, kRecordExpired = 4;
inline constexpr std::uint32_t kFlagDeleted = 0x2;

// PEER_GROUP_EVENT_RECORD_CHANGED for one record.
inline GroupEvent record_event(std::uint32_t change, const Guid& id, const Guid& type)
{
    GroupEvent e;
    e.type = kEventRecordChanged;
    e.change = change;
    e.record_id = id;
    e.record_type = type;
    return e;
}
inline GroupEvent record_event(std::uint32_t change, const Record& r) { return record_event(change, r.id, r.type); }

// A Membership record's GMC chain ([MS-PPSEC] 2.2.3.2), verified and ordered root first
// (`now` 0: validity periods not checked).
inline Hr membership_chain(const Record& membership, Ticks now, std::vector<pki::CertInfo>& ordered,
                           std::vector<Bytes>* ordered_der = nullptr)
{
    Bytes p7;
    std::vector<Bytes> certs;
    if (Hr h = parse_membership(membership.data, p7); failed(h))
        return h;
    if (Hr h = pki::parse_pkcs7_certs(p7, certs); failed(h))
        return h;
    if (Hr h = pki::verify_gmc_chain(certs, now, ordered, ordered_der); failed(h))
        return h;
    return ordered.empty() ? hr::invalid_credential : hr::ok;
}

// The UTF-16 code units of a string as bytes (meta values).
inline Bytes u16_bytes(std::u16string_view s)
{
    return Bytes(reinterpret_cast<const std::uint8_t*>(s.data()), reinterpret_cast<const std::uint8_t*>(s.data() + s.size()));
}
// ... and back.
inline std::u16string bytes_u16(const Bytes& b)
{
    std::u16string s(b.size() / 2, u'\0');
    if (!s.empty())
        std::memcpy(s.data(), b.data(), s.size() * 2);
    return s;
}

// A path for a new database of (identity, group) that no file occupies: the store's path, its
// leftovers (an earlier, unindexed copy) removed first; when they cannot be removed because
// another process still has them open (the user's group host releasing a deleted group; Windows
// does not delete open files), "<path>-N.db" instead. The index row records the path used.
inline std::string fresh_group_path(const UserStore& store, std::u16string_view identity, std::u16string_view group)
{
    const std::string base = store.group_path(identity, group);
    std::filesystem::create_directories(std::filesystem::u8path(base).parent_path());
    const std::string stem = base.substr(0, base.size() - 3);  // without ".db"
    for (int i = 0; i < 32; ++i) {
        std::string p = i ? stem + "-" + std::to_string(i) + ".db" : base;
        GroupDb::destroy(p);
        std::error_code ec;
        if (!std::filesystem::exists(std::filesystem::u8path(p), ec) && !ec)
            return p;
    }
    return base;  // GroupDb::create then reports the conflict
}

struct Group::State {
    std::unique_ptr<GroupDb> db;
    bool deleted = false;
    pki::Key identity_key;
    std::vector<Bytes> chain;          // this member's GMC chain, root (GRC) first
    pki::CertInfo gmc;                 // the leaf: this member's GMC
    Bytes grc;
    pki::Key group_key;                // only when this node owns the group key
    Ticks delta = 0;
    bool ready = true;                 // false after a join until the Security Properties record arrives
    std::uint32_t network_status = 0;  // PEER_GROUP_STATUS bits (group_net.cpp)
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

// Meta values holding a Ticks: 8 bytes, little-endian.
inline Bytes put_i64(Ticks v)
{
    Bytes b(8);
    for (int i = 0; i < 8; ++i)
        b[i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(v) >> (8 * i));
    return b;
}
inline Ticks get_i64(const Bytes& b)
{
    std::uint64_t v = 0;
    for (size_t i = 0; i < 8 && i < b.size(); ++i)
        v |= static_cast<std::uint64_t>(b[i]) << (8 * i);
    return static_cast<Ticks>(v);
}

inline Ticks utc_now_ticks()
{
    auto d = std::chrono::system_clock::now().time_since_epoch();
    return kUnixEpochTicks + std::chrono::duration_cast<std::chrono::nanoseconds>(d).count() / 100;
}

}  // namespace pd::p2p
