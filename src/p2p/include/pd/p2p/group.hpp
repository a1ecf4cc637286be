// A peer group on this machine ([doc] about-the-grouping-api, [MS-PPSEC] 1.3, fact sheet §2):
// its persisted database (group_db.hpp), the group's certificates and keys, the records with
// their [MS-PPSEC] 2.2.4 signatures, authorization by role, peer time, invitations and
// credentials. Everything here works without other peers; connecting and flooding come later.
//
// Thread-safety: a Group is shared by every handle of the same (identity, group) in the process
// and is safe to call from any thread. Subscribers are called after the change is committed and
// with no lock held.
#pragma once
#include "pd/p2p/status.hpp"
#include "pd/p2p/record_wire.hpp"
#include "pd/p2p/types.hpp"
#include "pd/p2p/user_store.hpp"

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace pd::p2p {

class GroupDb;

// PEER_GROUP_PROPERTIES in engine types. Flags/schemes keep their p2p.h values.
struct GroupProperties {
    std::uint32_t flags = 0;                 // PEER_MEMBER_DATA_OPTIONAL 1, DISABLE_PRESENCE 2, DEFER_EXPIRATION 4
    std::u16string cloud;
    std::u16string classifier;
    std::u16string group_peer_name;
    std::u16string creator_peer_name;
    std::u16string friendly_name;
    std::u16string comment;
    std::uint32_t member_data_lifetime = 0;  // seconds
    std::uint32_t presence_lifetime = 0;     // seconds
    std::uint32_t auth_schemes = 0;          // PEER_GROUP_GMC_AUTHENTICATION 1, PASSWORD 2
    std::u16string password;                 // only as input (never returned)
    Guid password_role;
};

inline constexpr std::uint32_t kDefaultMemberDataLifetime = 2419200;  // 28 days
inline constexpr std::uint32_t kMinMemberDataLifetime = 8 * 3600;     // doc: 8 hours
inline constexpr std::uint32_t kMaxMemberDataLifetime = 315360000;    // doc: 10 years
inline constexpr std::uint32_t kDefaultPresenceLifetime = 300;        // and the minimum

// The role GUIDs of p2p.h (PEER_GROUP_ROLE_ADMIN / MEMBER / INVITING_MEMBER).
Guid role_admin();
Guid role_member();
Guid role_inviting_member();

// One change, as the event layer needs it (PEER_GROUP_EVENT_*).
struct GroupEvent {
    std::uint32_t type = 0;      // PEER_GROUP_EVENT_TYPE value
    std::uint32_t change = 0;    // PEER_RECORD_CHANGE_TYPE / PEER_MEMBER_CHANGE_TYPE
    Guid record_id;
    Guid record_type;
    std::u16string identity;     // MEMBER_CHANGED; the peer of NEIGHBOR/DIRECT_CONNECTION
    std::uint32_t status = 0;    // STATUS_CHANGED; PEER_CONNECTION_STATUS of NEIGHBOR/DIRECT_CONNECTION
    // NEIGHBOR_CONNECTION / DIRECT_CONNECTION / INCOMING_DATA (from the network layer).
    std::uint64_t connection_id = 0, node_id = 0;
    Guid data_type;              // INCOMING_DATA
    Bytes data;                  // INCOMING_DATA
    std::uint32_t failure = 0;   // CONNECTION_FAILED: hrConnectionFailedReason (an HRESULT)
};
using GroupListener = std::function<void(const GroupEvent&)>;

// A member as PeerGroupEnumMembers reports it.
struct MemberInfo {
    std::u16string identity;
    std::u16string friendly_name;
    std::u16string attributes;
    bool present = false;
    Bytes spki;                  // the member's public key (SubjectPublicKeyInfo DER)
    std::u16string issuer_peer_name;
    std::u16string issuer_friendly_name;
    Ticks valid_from = 0, valid_to = 0;
    std::vector<Guid> roles;
};

// PeerGroupParseInvitation's result (PEER_INVITATION_INFO).
struct InvitationInfo {
    std::u16string cloud_name;
    std::uint32_t scope = 0;         // PNRP_SCOPE: GLOBAL 1, SITE_LOCAL 2, LINK_LOCAL 3
    std::uint32_t cloud_flags = 0;
    std::u16string group_peer_name, issuer_peer_name, subject_peer_name;
    std::u16string group_friendly_name, issuer_friendly_name, subject_friendly_name;
    Ticks valid_from = 0, valid_to = 0;
    std::vector<Guid> roles;
    std::vector<std::u16string> classifiers;
    Bytes subject_spki;
    std::uint32_t auth_scheme = 0;   // PEER_GROUP_GMC_AUTHENTICATION / PASSWORD_AUTHENTICATION
};
Hr parse_invitation(std::u16string_view xml, InvitationInfo& out);

class Group : public std::enable_shared_from_this<Group> {
public:
    // PeerGroupCreate: a new group key and GRC, the security-properties record and the creator's
    // membership record ([MS-PPSEC] 3.1.4.1); the group is listed for the creator identity.
    static Hr create(const std::shared_ptr<UserStore>& store, const GroupProperties& props,
                     std::shared_ptr<Group>& out);
    // PeerGroupOpen: the persisted group of `identity`, shared with other handles in the process.
    static Hr open(const std::shared_ptr<UserStore>& store, std::u16string_view identity,
                   std::u16string_view group_peer_name, std::shared_ptr<Group>& out);
    // PeerGroupDelete: removes the database and the index row (open handles keep working on
    // their in-memory object until closed, then fail).
    static Hr destroy(const std::shared_ptr<UserStore>& store, std::u16string_view identity,
                      std::u16string_view group_peer_name);
    // PeerGroupImportConfig.
    static Hr import_config(const std::shared_ptr<UserStore>& store, std::u16string_view xml,
                            std::u16string_view password, bool overwrite, std::u16string& identity,
                            std::u16string& group_peer_name);

    ~Group();

    const std::u16string& identity() const { return identity_; }
    const std::u16string& group_peer_name() const { return group_name_; }

    Hr properties(GroupProperties& out);
    Hr set_properties(const GroupProperties& in);
    Hr status(std::uint32_t& out);  // offline: neither LISTENING nor HAS_CONNECTIONS

    // Records. `rec` in: type, flags, attributes, expires (peer time), data; out: every field.
    Hr add_record(Record& rec);
    Hr update_record(const Record& rec, Record& stored);
    Hr delete_record(const Guid& id);
    Hr get_record(const Guid& id, Record& out);
    Hr enum_records(const Guid* type, std::vector<Record>& out);
    Hr search_records(std::u16string_view query, std::vector<Record>& out);

    // Peer time = UTC + delta ([MS-PPGRH] 1.3.6); delta 0 until peers adjust it.
    Hr to_peer_time(Ticks utc, Ticks& peer);
    Hr to_universal_time(Ticks peer, Ticks& utc);

    Hr export_database(const std::string& path);
    Hr import_database(const std::string& path);

    // `connected`: identities connected to this node (the network layer's view). A member is
    // present when connected, and this node itself while it is online.
    Hr members(std::u16string_view identity_filter, bool present_only, std::vector<MemberInfo>& out,
               const std::vector<std::u16string>* connected = nullptr);

    Hr create_invitation(std::u16string_view identity_xml, const Ticks* expiration,
                         const std::vector<Guid>& roles, std::u16string& xml);
    Hr create_password_invitation(std::u16string& xml);
    Hr issue_credentials(std::u16string_view subject_identity, const MemberInfo* credentials,
                         bool store_credentials, std::u16string& xml);
    Hr export_config(std::u16string_view password, std::u16string& xml);

    // Listeners of changes made through any handle of this process, and (polled every 250 ms
    // while at least one listener exists) of changes other processes make to the same database.
    std::uint64_t subscribe(GroupListener listener);
    void unsubscribe(std::uint64_t id);

    // Drops expired records now ([MS-PPGRH] 3.1.5.2.4); the DLL calls it before reads.
    void expire_now();

    // PeerGroupJoin / PeerGroupPasswordJoin ([MS-PPSEC] 3.1.4.2): a local database for `identity`
    // in the group of the invitation, holding the GMC chain of a GMC invitation (none yet for a
    // password invitation: the authenticator issues it at the first connection). The group is
    // "not ready" (record, property and time calls fail with hr::group_not_ready) until the
    // Security Properties record arrives from a member. hr::already_exists if the identity is
    // already in the group; hr::invitation_not_trusted / invalid_arg for a bad invitation;
    // hr::not_authorized if the GMC was issued to another identity.
    // `password` (PeerGroupPasswordJoin) is required for a password invitation and refused
    // (hr::invalid_arg) for a GMC invitation; a password join holds no GMC until the first Group
    // Connect with a member that may issue one (accept_issued_chain).
    static Hr join(const std::shared_ptr<UserStore>& store, std::u16string_view identity, std::u16string_view invitation,
                   std::shared_ptr<Group>& out, const std::u16string* password = nullptr);
    bool ready();

    // ---- the network layer's side (src/p2pnet, group_net.cpp) ------------------------------
    // A record a peer sent, already validated (check_remote_record): merged by the conflict rule
    // ([MS-PPGRH] 3.1.7.32); when it changed the database, the events of this process follow
    // (RECORD_CHANGED, MEMBER_CHANGED for a new Membership, PROPERTY_CHANGED; the group becomes
    // ready with its Security Properties record).
    Hr apply_remote(const Record& r, bool& changed);
    // A stored record of any type (Grouping's own and deleted ones included).
    Hr stored_record(const Guid& id, Record& out);
    // Signs a record this node itself creates on the graph (its presence record, [MS-PPGRH]
    // 3.1.7.4) as [MS-PPSEC] 2.2.4 requires, with this member's key and GMC serial. False before
    // the group is ready (its security version is unknown then).
    bool sign_own(Record& r);
    // Events the network layer raises (connections, data, status).
    void emit(const GroupEvent& e) { notify(e); }
    // PEER_GROUP_STATUS bits as the network layer sees them (status() reports them).
    void set_network_status(std::uint32_t status);
    // Peer time: the graph's Peer Time Delta ([MS-PPGRH] 3.1.5.2.2, peer = UTC - delta there),
    // persisted with the database.
    Hr set_graph_time_delta(Ticks graph_delta);
    Ticks graph_time_delta();
    // Addresses ("[v6]:port" / "v4:port") of members this node connected to, newest first, kept
    // with the database: PeerGroupConnect tries them when no address is given.
    Hr remembered_addresses(std::vector<std::string>& out);
    Hr remember_address(const std::string& address);
    // This node's credentials for connection security ([MS-PPSEC] 3.1): the identity key, the
    // identity's IDC and the GMC chain (PKCS#7; empty before a password join completes). The
    // caller wipes key_pkcs8 after use.
    Hr credentials(Bytes& key_pkcs8, Bytes& idc_der, Bytes& gmc_chain_p7);
    // This member's GMC chain (PKCS#7), re-read from the database when another process of the
    // user stored it (a password join completed there); empty while a password join is pending.
    Bytes local_chain();

    // ---- password groups, [MS-PPSEC] 3.2.5.2.4 / 3.3.5.2.5 (group_net.cpp) -------------------
    // Requestor: the password PeerGroupPasswordJoin was given, while the join waits for its GMC
    // (kept sealed with the user's key protector); nullopt once a GMC is held.
    std::optional<std::u16string> join_password();
    // Requestor: the GMC chain an Authenticator issued (PKCS#7). It must validate for this group
    // and certify this identity's name and key; it becomes the local GMC and the join password is
    // forgotten. hr::invalid_credential / hr::not_authorized otherwise (nothing changes).
    Hr accept_issued_chain(const Bytes& chain_p7);
    // Authenticator: the group's Password Hash String (2.2.1.2) when the group allows password
    // authentication (security 1.1, PEER_GROUP_PASSWORD_AUTHENTICATION) and this member may issue
    // the password role (3.3.5.2.5); nullopt otherwise.
    std::optional<std::string> password_hash_for_issuing();
    // Authenticator: a GMC chain for a password joiner (its IDC's key and peer name) with the
    // Security Properties' password role, valid from now until this member's GMC expires.
    Hr issue_for_password(const Bytes& subject_spki, std::u16string_view subject, std::u16string_view friendly,
                          Bytes& chain_p7);
    // The Member List lookup of [MS-PPSEC] 3.3.5.2.2: the member whose Membership record holds a
    // non-expired GMC for this key (its peer name), or nullopt.
    std::optional<std::u16string> member_by_key(const Bytes& spki);

    // [MS-PPSEC] 3.1.7.2: may a record another node sent enter this group's database? `defer`:
    // the GMC of its creator or modifier is not known yet (a Membership record may still come:
    // retry then). Looks at the Membership records stored so far (group_remote.cpp).
    enum class RemoteVerdict { valid, invalid, defer };
    RemoteVerdict check_remote_record(const Record& r);
    // Every record of the database, Grouping's own types and deleted ones included: what the
    // network layer floods and synchronises ([MS-PPGRH] 1.3.5).
    Hr all_records(std::vector<Record>& out);

private:
    Group() = default;
    struct State;
    friend struct GroupAccess;
    Hr load();
    // Reads the Security Properties record into the state; its presence makes the group ready
    // (a joined group before its first sync: hr::group_not_ready). Call with mutex_ held.
    Hr reload_properties();
    // Reads this member's GMC chain from the database into the state (load, and a password join
    // completed by another process). hr::group_not_ready while a password join waits for its
    // GMC. Call with mutex_ held.
    Hr reload_chain();
    // A Membership record for this member with a newer GMC (renewed or other roles) becomes the
    // local GMC ([MS-PPSEC] 3.1.4.5). Call with mutex_ held.
    void adopt_renewed_gmc(const Record& membership);
    // Signs rec ([MS-PPSEC] 2.2.4) with the identity key, or the GRC key for the group's own
    // records, and inserts or replaces it. Call with mutex_ held.
    Hr sign_and_store(Record& rec, bool with_group_key, bool insert);
    // Publishes (or republishes) the Membership record of `member` ([MS-PPSEC] 2.2.3.2).
    Hr publish_membership(std::u16string_view member, const Bytes& chain_p7, Ticks now, Ticks expires);
    // GMC chain for a subject, issued by this member ([MS-PPSEC] 3.1.7.5). Call with mutex_ held.
    Hr issue_chain(const Bytes& subject_spki, std::u16string_view subject, std::u16string_view subject_friendly,
                   std::vector<Guid> roles, const Ticks* not_before, const Ticks* not_after, Bytes& chain_p7);
    void notify(const GroupEvent& e);
    // Every record signed by a member of this group (import_database). Call with mutex_ held.
    Hr validate_signatures(const std::vector<Record>& records);
    // Watches the database for other processes' changes while anyone listens (group_watch.cpp).
    void start_watcher();
    void stop_watcher();
    void watch_loop();

    std::shared_ptr<UserStore> store_;
    std::u16string identity_;
    std::u16string group_name_;
    std::unique_ptr<State> state_;
    std::mutex mutex_;
    std::mutex listeners_mutex_;
    std::vector<std::pair<std::uint64_t, GroupListener>> listeners_;
    std::uint64_t next_listener_ = 1;
};

}  // namespace pd::p2p
