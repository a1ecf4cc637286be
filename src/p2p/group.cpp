// pd::p2p::Group: a peer group on this machine. See group.hpp for the contract.
//
// Persisted state (GroupDb meta keys):
//   group_peer_name   the group's peer name (GroupDb writes it at create)
//   identity          the member identity that owns this database
//   gmc               this member's GMC chain, PKCS#7 ([MS-PPSEC] 2.2.3.2 "GMC Data")
//   grc               the Group Root Certificate, DER
//   group_key         the GRC private key, sealed by the store's KeyProtector (creator/owner only)
//   peer_time_delta   peer time - UTC, 100 ns ticks, 8 bytes little-endian ([MS-PPGRH] 1.3.6)
// Records: the Security Properties record (properties), Membership records (one per member
// GMC), and the application's records — all signed per [MS-PPSEC] 2.2.4.
#include "pd/p2p/group.hpp"
#include "group_state.hpp"

#include "pd/p2p/attributes.hpp"
#include "pd/p2p/documents.hpp"
#include "pd/p2p/group_db.hpp"
#include "pd/p2p/identity.hpp"
#include "pd/p2p/names.hpp"
#include "pd/p2p/pki.hpp"
#include "pd/p2p/record_id.hpp"
#include "pd/p2p/search.hpp"
#include "pd/p2p/security_records.hpp"


#include <algorithm>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>

namespace pd::p2p {

Guid role_admin() { return pki::kRoleAdmin; }
Guid role_member() { return pki::kRoleMember; }
Guid role_inviting_member() { return pki::kRoleInvitingMember; }

namespace {

constexpr std::uint32_t kFlagAutoRefresh = 0x1;
constexpr std::uint32_t kKnownPropertyFlags = 0x7;
constexpr std::uint32_t kAuthGmc = 0x1, kAuthPassword = 0x2;

// The process-wide table of open groups: every handle of the same (store, identity, group)
// shares one Group, so a change made through one handle reaches the registrations of all.
std::mutex g_open_mutex;
std::map<std::string, std::weak_ptr<Group>> g_open;


}  // namespace

Group::~Group() { stop_watcher(); }

// ------------------------------------------------------------------------------------------------
// creation and opening

namespace {

Hr validate_new_properties(const GroupProperties& in, SecurityProperties& sp)
{
    if (in.flags & ~kKnownPropertyFlags)
        return hr::invalid_group_properties;
    if (!in.group_peer_name.empty())
        return hr::invalid_group_properties;  // [doc] PeerGroupCreate: cannot be set
    // The classifier may be NULL/empty ([doc] PeerGroupCreate lists only pwzCreatorPeerName as
    // required): the group peer name is then "<authority>.".
    if (!valid_classifier(in.classifier))
        return hr::invalid_classifier;
    if (in.friendly_name.size() > 255)
        return hr::invalid_friendly_name;
    if (in.comment.size() > 255)
        return hr::invalid_group_properties;
    if (in.cloud.size() > 126)
        return hr::invalid_group_properties;
    // [doc] PEER_GROUP_PROPERTIES: member data lifetime 8 h .. 10 years, 0 = the issuer's
    // remaining lifetime (kept as 0: the creator's GMC never expires).
    if (in.member_data_lifetime && (in.member_data_lifetime < kMinMemberDataLifetime ||
                                    in.member_data_lifetime > kMaxMemberDataLifetime))
        return hr::invalid_group_properties;
    std::uint32_t schemes = in.auth_schemes ? in.auth_schemes : kAuthGmc;
    if (schemes & ~(kAuthGmc | kAuthPassword))
        return hr::invalid_group_properties;
    sp = {};
    sp.major = 1;
    sp.minor = 0;
    if (schemes & kAuthPassword) {
        // Password groups use group security 1.1 ([MS-PPSEC] 3.1.4.1); the password role is
        // Admin or Member ("Inviting Member" in the spec's wording of the second GUID).
        if (in.password.empty() || in.password.size() > 255)
            return hr::invalid_group_properties;
        if (in.password_role != pki::kRoleAdmin && in.password_role != pki::kRoleMember)
            return hr::invalid_group_properties;
        sp.minor = 1;
        sp.password_hash = pki::group_password_hash(in.password);
        sp.password_role = in.password_role;
    }
    sp.auth_flags = schemes;
    sp.option_flags = in.flags;
    sp.membership_lifetime = in.member_data_lifetime ? in.member_data_lifetime : kDefaultMemberDataLifetime;
    // [MS-PPSEC] 3.1.4.1: below 300 s the default of 300 s is used.
    sp.presence_lifetime = std::max(in.presence_lifetime, kDefaultPresenceLifetime);
    sp.comment = in.comment;
    sp.cloud = in.cloud.empty() ? u"Global_" : in.cloud;
    sp.classifier = in.classifier;
    sp.friendly_name = in.friendly_name.empty() ? in.classifier : in.friendly_name;
    return hr::ok;
}


}  // namespace

Hr Group::create(const std::shared_ptr<UserStore>& store, const GroupProperties& props, std::shared_ptr<Group>& out)
{
    try {
        SecurityProperties sp;
        if (Hr h = validate_new_properties(props, sp); failed(h))
            return h;
        // The creator: the named identity, or the user's default identity.
        std::u16string creator = props.creator_peer_name;
        if (creator.empty()) {
            if (Hr h = default_identity(*store, creator); failed(h))
                return h;
        } else {
            PeerName pn;
            if (failed(parse_peer_name(creator, pn)) || !pn.secure())
                return hr::invalid_peer_name;
        }
        IdentityKeys id;
        if (Hr h = load_identity(*store, creator, id); failed(h))
            return h == hr::not_found ? hr::identity_not_found : h;
        WipeOnExit wipe{id.private_pkcs8};
        auto state = std::make_unique<State>();
        if (Hr h = pki::Key::from_pkcs8_der(id.private_pkcs8, state->identity_key); failed(h))
            return hr::no_key_access;

        // The group key and its self-signed GRC; the group peer name is the GRC key's authority
        // with the group classifier ([MS-PPSEC] 1.3.2.1).
        if (Hr h = pki::Key::generate(state->group_key); failed(h))
            return h;
        std::u16string group_name = pki::authority(state->group_key) + u"." + sp.classifier;
        sp.group_peer_name = group_name;
        sp.creator_peer_name = creator;
        // Certificates carry whole seconds: validity computed from a rounded "now" so that the
        // times read back from a certificate equal the ones it was made with.
        Ticks now = utc_now_ticks() / kTicksPerSecond * kTicksPerSecond;
        Ticks forever = now + pki::kInfiniteLifetime;
        if (Hr h = pki::make_grc(state->group_key, group_name, sp.friendly_name, now, forever, 0, state->grc); failed(h))
            return h;
        // The creator's GMC: issued by the GRC, Admin role, for the creator's identity key.
        pki::GmcRequest req;
        req.subject_spki = state->identity_key.spki_der();
        req.subject_peer_name = creator;
        req.subject_friendly_name = id.row.friendly_name;
        req.roles = {pki::kRoleAdmin};
        req.classifiers = pki::classifiers_for_roles(req.roles);
        req.not_before = now;
        req.not_after = forever;
        Bytes gmc;
        if (Hr h = pki::make_gmc(state->group_key, state->grc, req, gmc); failed(h))
            return h;
        state->chain = {state->grc, gmc};
        if (Hr h = pki::parse_cert(gmc, state->gmc); failed(h))
            return h;
        state->props = sp;
        state->version = sp.minor ? pki::GroupSecurity::v1_1 : pki::GroupSecurity::v1_0;

        std::string path = fresh_group_path(*store, creator, group_name);
        if (Hr h = GroupDb::create(path, state->db); failed(h))
            return h;
        auto& db = *state->db;
        Bytes sealed, clear = state->group_key.private_pkcs8_der();
        WipeOnExit wipe_group{clear};
        Hr h = store->protector().protect(clear, sealed);
        Bytes chain_p7 = pki::pkcs7_certs(state->chain);
        if (succeeded(h))
            h = db.put_meta(kMetaGroupPeerName, utf8_bytes(group_name));
        if (succeeded(h))
            h = db.put_meta(kMetaIdentity, u16_bytes(creator));
        if (succeeded(h))
            h = db.put_meta(kMetaGmc, chain_p7);
        if (succeeded(h))
            h = db.put_meta(kMetaGrc, state->grc);
        if (succeeded(h))
            h = db.put_meta(kMetaGroupKey, sealed);
        if (succeeded(h))
            h = db.put_meta(kMetaTimeDelta, put_i64(0));

        std::shared_ptr<Group> g(new Group());
        g->store_ = store;
        g->identity_ = creator;
        g->group_name_ = group_name;
        g->state_ = std::move(state);
        // [MS-PPSEC] 3.1.4.1: the Security Properties record (creator = group peer name, signed
        // with the GRC key) and the creator's Membership record.
        if (succeeded(h)) {
            Record sec;
            sec.type = kSecurityPropertiesType;
            sec.id = new_record_id(group_name);
            sec.version = 1;
            sec.creator = group_name;  // never modified: no Last Modified By ([MS-PPGRH] 3.1.7.27)
            sec.created = sec.modified = now;
            sec.expires = forever;
            sec.data = serialize_security_properties(sp);
            h = g->sign_and_store(sec, true, true);
        }
        if (succeeded(h))
            h = g->publish_membership(creator, chain_p7, now, forever);
        if (succeeded(h))
            h = store->add_group({creator, group_name, sp.friendly_name, path}, false);
        if (failed(h)) {
            g->state_->db.reset();
            GroupDb::destroy(path);
            return h;
        }
        {
            std::lock_guard lock(g_open_mutex);
            g_open[path] = g;
        }
        out = std::move(g);
        return hr::ok;
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    } catch (const std::filesystem::filesystem_error&) {
        return hr::database_accessdenied;
    }
}

Hr Group::open(const std::shared_ptr<UserStore>& store, std::u16string_view identity, std::u16string_view group_name,
               std::shared_ptr<Group>& out)
{
    try {
        IdentityRow idrow;
        if (failed(store->get_identity(identity, idrow)))
            return hr::identity_not_found;
        GroupRow row;
        if (failed(store->get_group(identity, group_name, row)))
            return hr::not_found;
        std::lock_guard lock(g_open_mutex);
        if (auto g = g_open[row.path].lock(); g && !g->state_->deleted) {
            out = std::move(g);
            return hr::ok;
        }
        std::shared_ptr<Group> g(new Group());
        g->store_ = store;
        g->identity_ = std::u16string(identity);
        g->group_name_ = std::u16string(group_name);
        g->state_ = std::make_unique<State>();
        if (Hr h = GroupDb::open(row.path, g->state_->db); failed(h))
            return h;
        if (Hr h = g->load(); h == hr::group_not_ready)
            g->state_->ready = false;  // joined, not synchronised yet: it may connect
        else if (failed(h))
            return h;
        g_open[row.path] = g;
        out = std::move(g);
        return hr::ok;
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    }
}

Hr Group::join(const std::shared_ptr<UserStore>& store, std::u16string_view identity, std::u16string_view invitation,
                std::shared_ptr<Group>& out, const std::u16string* password)
{
    try {
        Invitation inv;
        if (failed(parse_invitation(invitation, inv)))
            return hr::invalid_arg;
        // A password invitation needs the password, a GMC invitation must not get one.
        if (inv.password != (password != nullptr) || (password && password->empty()))
            return hr::invalid_arg;
        IdentityKeys id;
        if (Hr h = load_identity(*store, identity, id); failed(h))
            return h == hr::not_found ? hr::identity_not_found : h;
        WipeOnExit wipe{id.private_pkcs8};
        pki::Key key;
        if (failed(pki::Key::from_pkcs8_der(id.private_pkcs8, key)))
            return hr::no_key_access;
        std::u16string group_name, friendly;
        std::vector<Bytes> ordered_der;
        Bytes sealed_password;
        if (inv.password) {
            // [MS-PPSEC] 3.1.4.2: a password joiner knows only the group's peer name; its GMC is
            // issued by the Authenticator of its first connection (3.3.5.2.5).
            PeerName parsed;
            if (failed(parse_peer_name(inv.group_peer_name, parsed)) || !parsed.secure())
                return hr::invalid_arg;
            group_name = inv.group_peer_name;
            friendly = inv.group_friendly_name;
            Bytes clear = u16_bytes(*password);
            WipeOnExit w{clear};
            if (Hr h = store->protector().protect(clear, sealed_password); failed(h))
                return h;
        } else {
            std::vector<Bytes> certs;
            std::vector<pki::CertInfo> ordered;
            if (failed(pki::parse_pkcs7_certs(inv.gmc, certs)) || certs.empty())
                return hr::invalid_arg;
            if (failed(pki::verify_gmc_chain(certs, utc_now_ticks(), ordered, &ordered_der)) || ordered.empty())
                return hr::invitation_not_trusted;
            const pki::CertInfo& leaf = ordered.back();
            // The invitation is for this identity: the GMC certifies its name and key.
            if (leaf.subject_peer_name != identity || leaf.spki != key.spki_der())
                return hr::not_authorized;
            group_name = leaf.group_peer_name;
            friendly = ordered.front().subject_name;
        }
        // One join of (identity, group) at a time in this process: the check below and the index
        // row must not interleave with another join's.
        static std::mutex join_mutex;
        std::lock_guard join_lock(join_mutex);
        GroupRow existing;
        if (succeeded(store->get_group(identity, group_name, existing)))
            return hr::already_exists;
        std::string path = fresh_group_path(*store, identity, group_name);
        {
            std::unique_ptr<GroupDb> db;
            if (Hr h = GroupDb::create(path, db); failed(h))
                return h;
            Hr h = db->put_meta(kMetaGroupPeerName, utf8_bytes(group_name));
            if (succeeded(h))
                h = db->put_meta(kMetaIdentity, u16_bytes(identity));
            if (succeeded(h) && inv.password)
                h = db->put_meta(kMetaJoinPassword, sealed_password);
            if (succeeded(h) && !inv.password)
                h = db->put_meta(kMetaGmc, pki::pkcs7_certs(ordered_der));
            if (succeeded(h) && !inv.password)
                h = db->put_meta(kMetaGrc, ordered_der.front());
            if (succeeded(h))
                h = db->put_meta(kMetaTimeDelta, put_i64(0));
            if (succeeded(h))
                h = store->add_group({std::u16string(identity), group_name, friendly, path}, false);
            if (failed(h)) {
                db.reset();
                GroupDb::destroy(path);
                return h;
            }
        }
        return open(store, identity, group_name, out);
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    } catch (const std::filesystem::filesystem_error&) {
        return hr::database_accessdenied;
    }
}

Hr Group::load()
{
    State& s = *state_;
    Bytes v;
    if (Hr h = s.db->get_meta(kMetaIdentity, v); failed(h) || bytes_u16(v) != identity_)
        return hr::invalid_group;
    IdentityKeys id;
    if (Hr h = load_identity(*store_, identity_, id); failed(h))
        return h == hr::not_found ? hr::identity_not_found : h;
    WipeOnExit wipe{id.private_pkcs8};
    if (failed(pki::Key::from_pkcs8_der(id.private_pkcs8, s.identity_key)))
        return hr::no_key_access;
    Hr chain = reload_chain();
    if (failed(chain) && chain != hr::group_not_ready)
        return chain;
    Bytes sealed;
    if (succeeded(s.db->get_meta(kMetaGroupKey, sealed)) && !sealed.empty()) {
        Bytes clear;
        WipeOnExit w{clear};
        if (succeeded(store_->protector().unprotect(sealed, clear)))
            pki::Key::from_pkcs8_der(clear, s.group_key);
    }
    Bytes delta;
    if (succeeded(s.db->get_meta(kMetaTimeDelta, delta)))
        s.delta = get_i64(delta);
    if (chain == hr::group_not_ready)
        return chain;  // a password join before its first Group Connect
    return reload_properties();
}

Hr Group::reload_chain()
{
    State& s = *state_;
    Bytes chain_p7, pending;
    std::vector<Bytes> certs;
    if (failed(s.db->get_meta(kMetaGmc, chain_p7)) || chain_p7.empty()) {
        // No GMC yet: a password join waiting for its Authenticator ([MS-PPSEC] 3.2.5.2.4).
        if (succeeded(s.db->get_meta(kMetaJoinPassword, pending)) && !pending.empty())
            return hr::group_not_ready;
        return hr::invalid_group;
    }
    if (failed(pki::parse_pkcs7_certs(chain_p7, certs)) || certs.empty())
        return hr::invalid_group;
    std::vector<pki::CertInfo> ordered;
    std::vector<Bytes> ordered_der;
    if (failed(pki::verify_gmc_chain(certs, utc_now_ticks(), ordered, &ordered_der)) || ordered.empty())
        return hr::invalid_group;
    if (ordered.back().spki != s.identity_key.spki_der())
        return hr::invalid_group;
    s.chain = std::move(ordered_der);
    s.gmc = ordered.back();
    s.grc = s.chain.front();
    return hr::ok;
}

Hr Group::reload_properties()
{
    std::vector<Record> recs;
    if (Hr h = state_->db->list_records(&kSecurityPropertiesType, false, recs); failed(h))
        return h;
    if (recs.empty())
        return hr::group_not_ready;  // the Security Properties record has not arrived yet
    SecurityProperties sp;
    if (Hr h = parse_security_properties(recs.front().data, sp); failed(h))
        return hr::invalid_group;
    state_->props = sp;
    state_->version = sp.minor ? pki::GroupSecurity::v1_1 : pki::GroupSecurity::v1_0;
    state_->ready = true;  // a joined group is ready once this record is here, whoever stored it
    return hr::ok;
}

Hr Group::destroy(const std::shared_ptr<UserStore>& store, std::u16string_view identity, std::u16string_view group_name)
{
    GroupRow row;
    if (failed(store->get_group(identity, group_name, row)))
        return hr::not_found;
    {
        // Open handles of this process stop using the database (they then fail with
        // PEER_E_INVALID_GROUP); the files can then be removed.
        std::lock_guard lock(g_open_mutex);
        if (auto g = g_open[row.path].lock()) {
            std::lock_guard glock(g->mutex_);
            g->state_->deleted = true;
            g->state_->db.reset();
        }
        g_open.erase(row.path);
    }
    if (Hr h = store->delete_group(identity, group_name); failed(h))
        return h;
    GroupDb::destroy(row.path);
    return hr::ok;
}

// ------------------------------------------------------------------------------------------------
// signing and storing

Hr Group::sign_and_store(Record& rec, bool with_group_key, bool insert)
{
    State& s = *state_;
    // [MS-PPSEC] 2.2.4: creator and modifier GMC serials, then the signature. Records of the
    // group itself (Security Properties) are signed with the GRC key and carry its serial.
    Bytes serial = s.gmc.serial;
    const pki::Key* key = &s.identity_key;
    if (with_group_key) {
        pki::CertInfo grc;
        if (failed(pki::parse_cert(s.grc, grc)) || s.group_key.empty())
            return hr::not_authorized;
        serial = grc.serial;
        key = &s.group_key;
    }
    Bytes creator_serial = serial;
    if (!insert) {
        pki::RecordSecurity old;
        if (succeeded(pki::parse_record_security(rec.security, old)))
            creator_serial = old.creator_serial;
    }
    rec.security.clear();
    if (Hr h = pki::record_security(rec, creator_serial, serial, *key, s.version, rec.security); failed(h))
        return h;
    Hr h = insert ? s.db->insert_record(rec) : s.db->replace_record(rec);
    if (succeeded(h))
        s.note(rec);
    return h;
}

Hr Group::publish_membership(std::u16string_view member, const Bytes& chain_p7, Ticks now, Ticks expires)
{
    State& s = *state_;
    // One Membership record per member and publisher: this node replaces the one it published
    // for the same member. The publisher is the record's creator ([MS-PPSEC] 3.1.7.2 looks the
    // signer up by the record's creator and modifier): the member itself, or the issuer that
    // stores the credentials it issued (PEER_GROUP_STORE_CREDENTIALS).
    std::vector<Record> existing;
    if (Hr h = s.db->list_records(&kMembershipType, false, existing); failed(h))
        return h;
    Record rec;
    bool insert = true;
    for (auto& r : existing) {
        std::vector<pki::CertInfo> ordered;
        if (r.creator == identity_ && succeeded(membership_chain(r, 0, ordered)) &&
            ordered.back().subject_peer_name == member) {
            rec = r;
            insert = false;
            break;
        }
    }
    if (insert) {
        rec.type = kMembershipType;
        rec.creator = identity_;
        rec.id = new_record_id(rec.creator);
        rec.version = 1;
        rec.created = now;
        rec.modified_by.clear();  // never modified ([MS-PPGRH] 3.1.7.27)
    } else {
        rec.version += 1;
        rec.modified_by = identity_;
        now = std::max(now, rec.modified + 1);
    }
    rec.modified = now;
    // [MS-PPSEC] 3.1.7.1: a record's lifetime lies within its signer's GMC.
    rec.expires = std::min(expires, s.gmc.not_after);
    rec.flags = 0;
    rec.data = serialize_membership(1, state_->props.minor, chain_p7);
    return sign_and_store(rec, false, insert);
}

void Group::notify(const GroupEvent& e)
{
    std::vector<GroupListener> copy;
    {
        std::lock_guard lock(listeners_mutex_);
        for (auto& [id, l] : listeners_)
            copy.push_back(l);
    }
    for (auto& l : copy)
        l(e);
}

std::uint64_t Group::subscribe(GroupListener listener)
{
    std::uint64_t id;
    {
        std::lock_guard lock(listeners_mutex_);
        id = next_listener_++;
        listeners_.emplace_back(id, std::move(listener));
    }
    start_watcher();
    return id;
}

void Group::unsubscribe(std::uint64_t id)
{
    std::lock_guard lock(listeners_mutex_);
    listeners_.erase(std::remove_if(listeners_.begin(), listeners_.end(), [id](auto& p) { return p.first == id; }),
                     listeners_.end());
}

// Call with mutex_ held: fails for a deleted group, and for a joined group before its Security
// Properties record arrived (PEER_E_GROUP_NOT_READY, fact sheet §2.4).
// A joined group becomes ready as soon as its database holds the Security Properties record,
// whichever process (or the user's group host) stored it.
// A password join is ready once it also holds its GMC (issued to this or another process).
#define PD_GROUP_LIVE()                                                                        \
    if (state_->deleted || !state_->db)                                                        \
        return hr::invalid_group;                                                              \
    if (!state_->ready &&                                                                      \
        ((state_->chain.empty() && failed(reload_chain())) || failed(reload_properties())))    \
    return hr::group_not_ready

// ------------------------------------------------------------------------------------------------
// properties

Hr Group::status(std::uint32_t& out)
{
    std::lock_guard lock(mutex_);
    if (state_->deleted || !state_->db)
        return hr::invalid_group;
    out = state_->network_status;  // LISTENING / HAS_CONNECTIONS, from the network layer
    return hr::ok;
}

Hr Group::properties(GroupProperties& out)
{
    std::lock_guard lock(mutex_);
    PD_GROUP_LIVE();
    if (Hr h = reload_properties(); failed(h))
        return h;
    const auto& p = state_->props;
    out = {};
    out.flags = p.option_flags;
    out.cloud = p.cloud;
    out.classifier = p.classifier;
    out.group_peer_name = p.group_peer_name;
    out.creator_peer_name = p.creator_peer_name;
    out.friendly_name = p.friendly_name;
    out.comment = p.comment;
    out.member_data_lifetime = p.membership_lifetime;
    out.presence_lifetime = p.presence_lifetime;
    out.auth_schemes = p.minor ? p.auth_flags : kAuthGmc;
    out.password_role = p.password_role;
    return hr::ok;
}

Hr Group::set_properties(const GroupProperties& in)
{
    {
        std::lock_guard lock(mutex_);
        PD_GROUP_LIVE();
        if (Hr h = reload_properties(); failed(h))
            return h;
        State& s = *state_;
        // [doc] PeerGroupSetProperties: only the creator may change properties.
        if (identity_ != s.props.creator_peer_name || s.group_key.empty())
            return hr::not_authorized;
        SecurityProperties sp = s.props;
        // Immutable: cloud, classifier, group peer name, creator peer name (NULL = unchanged).
        auto changed = [](const std::u16string& given, const std::u16string& current) {
            return !given.empty() && given != current;
        };
        if (changed(in.cloud, sp.cloud) || changed(in.classifier, sp.classifier) ||
            changed(in.group_peer_name, sp.group_peer_name) || changed(in.creator_peer_name, sp.creator_peer_name))
            return hr::invalid_group_properties;
        if ((in.flags & ~kKnownPropertyFlags) || in.friendly_name.size() > 255 || in.comment.size() > 255)
            return hr::invalid_group_properties;
        // Lifetimes: the API lets the creator change them (they are not in the page's list of
        // fixed members); 0 keeps the current value. Same limits as at creation.
        if (in.member_data_lifetime) {
            if (in.member_data_lifetime < kMinMemberDataLifetime || in.member_data_lifetime > kMaxMemberDataLifetime)
                return hr::invalid_group_properties;
            sp.membership_lifetime = in.member_data_lifetime;
        }
        if (in.presence_lifetime)
            sp.presence_lifetime = std::max(in.presence_lifetime, kDefaultPresenceLifetime);
        // Authentication schemes are fixed at creation too; the password and its role may change
        // in a password group.
        std::uint32_t schemes = sp.minor ? sp.auth_flags : kAuthGmc;
        if (in.auth_schemes && in.auth_schemes != schemes)
            return hr::invalid_group_properties;
        if (sp.minor && !in.password.empty()) {
            if (in.password.size() > 255)
                return hr::invalid_group_properties;
            sp.password_hash = pki::group_password_hash(in.password);
        }
        if (sp.minor && !in.password_role.is_null()) {
            if (in.password_role != pki::kRoleAdmin && in.password_role != pki::kRoleMember)
                return hr::invalid_group_properties;
            sp.password_role = in.password_role;
        }
        sp.option_flags = in.flags;
        sp.friendly_name = in.friendly_name.empty() ? sp.classifier : in.friendly_name;
        sp.comment = in.comment;
        std::vector<Record> recs;
        if (Hr h = s.db->list_records(&kSecurityPropertiesType, false, recs); failed(h) || recs.empty())
            return failed(h) ? h : hr::group_not_ready;
        Record rec = recs.front();
        rec.version += 1;
        rec.modified = utc_now_ticks() + s.delta;
        rec.modified_by = sp.group_peer_name;
        rec.data = serialize_security_properties(sp);
        if (Hr h = sign_and_store(rec, true, false); failed(h))
            return h;
        s.props = sp;
        store_->set_group_friendly_name(identity_, group_name_, sp.friendly_name);
    }
    GroupEvent e;
    e.type = kEventPropertyChanged;
    notify(e);
    return hr::ok;
}

// ------------------------------------------------------------------------------------------------
// records

namespace {

bool is_app_record(const Record& r) { return !is_reserved_record_type(r.type); }


Hr check_attributes(const std::u16string& xml)
{
    if (xml.empty())
        return hr::ok;
    std::vector<Attribute> attrs;
    return parse_attributes(xml, attrs);
}

}  // namespace

void Group::expire_now()
{
    std::vector<Record> purged;
    {
        std::lock_guard lock(mutex_);
        if (state_->deleted || !state_->db)
            return;
        // DEFER_EXPIRATION: records do not expire while the node is offline ([MS-PPSEC] 2.2.3.1 E).
        if (state_->props.option_flags & 0x4)
            return;
        if (failed(state_->db->purge_expired(utc_now_ticks() + state_->delta, purged)))
            return;
        if (state_->watching && !purged.empty()) {
            for (auto& r : purged)
                state_->seen.erase(r.id);
            state_->seen_version = state_->db->data_version();
        }
    }
    for (auto& r : purged) {
        if (!is_app_record(r) || (r.flags & kFlagDeleted))
            continue;
        notify(record_event(kRecordExpired, r));
    }
}

Hr Group::add_record(Record& rec)
{
    expire_now();
    {
        std::lock_guard lock(mutex_);
        PD_GROUP_LIVE();
        State& s = *state_;
        // [MS-PPSEC] 2.2.3 / [MS-PPGRH] 2.2.1.9: the infrastructure's record types are reserved.
        if (is_reserved_record_type(rec.type))
            return hr::not_authorized;
        if (rec.flags & ~kFlagAutoRefresh)
            return hr::invalid_record;
        if (rec.data.size() + 2 * rec.attributes.size() * sizeof(char16_t) > kMaxRecordBytes)
            return hr::max_record_size_exceeded;
        if (Hr h = check_attributes(rec.attributes); failed(h))
            return h;
        Ticks now = utc_now_ticks() + s.delta;
        if (rec.expires <= now)
            return hr::invalid_record_expiration;
        // The infrastructure fills in everything else ([doc] PeerGroupAddRecord).
        rec.id = new_record_id(identity_);
        rec.version = 1;
        rec.creator = identity_;
        rec.modified_by.clear();  // on the wire a new record has no modifier ([MS-PPGRH] 3.1.7.2)
        rec.created = now;
        rec.modified = now;
        if (Hr h = sign_and_store(rec, false, true); failed(h))
            return h;
    }
    notify(record_event(kRecordAdded, rec));
    return hr::ok;
}

Hr Group::update_record(const Record& in, Record& stored)
{
    expire_now();
    {
        std::lock_guard lock(mutex_);
        PD_GROUP_LIVE();
        State& s = *state_;
        Record cur;
        if (failed(s.db->get_record(in.id, cur)) || (cur.flags & kFlagDeleted) || !is_app_record(cur))
            return hr::record_not_found;
        // Only the creator, or an administrator, may change a record ([MS-PPSEC] 2.2.5.3).
        if (cur.creator != identity_ && !s.is_admin())
            return hr::not_authorized;
        // type and flags must be given unchanged ([doc] PeerGroupUpdateRecord).
        if (in.type != cur.type || in.flags != cur.flags)
            return hr::invalid_arg;
        if (in.data.size() + 2 * in.attributes.size() * sizeof(char16_t) > kMaxRecordBytes)
            return hr::max_record_size_exceeded;
        if (Hr h = check_attributes(in.attributes); failed(h))
            return h;
        // The expiration may only move later.
        if (in.expires < cur.expires)
            return hr::invalid_record_expiration;
        Ticks now = utc_now_ticks() + s.delta;
        cur.attributes = in.attributes;
        cur.data = in.data;
        cur.expires = in.expires;
        cur.version += 1;
        cur.modified_by = identity_;
        cur.modified = std::max(now, cur.modified + 1);
        if (Hr h = sign_and_store(cur, false, false); failed(h))
            return h;
        stored = cur;
    }
    notify(record_event(kRecordUpdated, stored));
    return hr::ok;
}

Hr Group::delete_record(const Guid& id)
{
    expire_now();
    Record cur;
    {
        std::lock_guard lock(mutex_);
        PD_GROUP_LIVE();
        State& s = *state_;
        if (failed(s.db->get_record(id, cur)) || (cur.flags & kFlagDeleted) || !is_app_record(cur))
            return hr::record_not_found;
        if (cur.creator != identity_ && !s.is_admin())
            return hr::not_authorized;
        // A tombstone: marked deleted, payload and attributes dropped, kept until it expires so
        // that the deletion reaches every member ([MS-PPGRH] 1.3.5).
        cur.flags |= kFlagDeleted;
        cur.data.clear();
        cur.attributes.clear();
        cur.version += 1;
        cur.modified_by = identity_;
        cur.modified = std::max(utc_now_ticks() + s.delta, cur.modified + 1);
        if (Hr h = sign_and_store(cur, false, false); failed(h))
            return h;
    }
    notify(record_event(kRecordDeleted, cur));
    return hr::ok;
}

Hr Group::get_record(const Guid& id, Record& out)
{
    expire_now();
    std::lock_guard lock(mutex_);
    PD_GROUP_LIVE();
    Record r;
    if (failed(state_->db->get_record(id, r)) || (r.flags & kFlagDeleted) || !is_app_record(r))
        return hr::record_not_found;
    out = std::move(r);
    return hr::ok;
}

Hr Group::enum_records(const Guid* type, std::vector<Record>& out)
{
    expire_now();
    std::lock_guard lock(mutex_);
    PD_GROUP_LIVE();
    std::vector<Record> all;
    if (Hr h = state_->db->list_records(type, false, all); failed(h))
        return h;
    out.clear();
    for (auto& r : all)
        if (is_app_record(r) && !(r.flags & kFlagDeleted))
            out.push_back(std::move(r));
    return hr::ok;
}

Hr Group::search_records(std::u16string_view query, std::vector<Record>& out)
{
    Search search;
    if (Hr h = Search::parse(query, search); failed(h))
        return h;
    std::vector<Record> all;
    if (Hr h = enum_records(nullptr, all); failed(h))
        return h;
    out.clear();
    for (auto& r : all) {
        bool match = false;
        if (succeeded(search.matches_record(r, match)) && match)
            out.push_back(std::move(r));
    }
    return hr::ok;
}

// ------------------------------------------------------------------------------------------------
// time, database

Hr Group::to_peer_time(Ticks utc, Ticks& peer)
{
    std::lock_guard lock(mutex_);
    PD_GROUP_LIVE();
    peer = utc + state_->delta;
    return hr::ok;
}

Hr Group::to_universal_time(Ticks peer, Ticks& utc)
{
    std::lock_guard lock(mutex_);
    PD_GROUP_LIVE();
    utc = peer - state_->delta;
    return hr::ok;
}

Hr Group::export_database(const std::string& path)
{
    expire_now();
    std::lock_guard lock(mutex_);
    PD_GROUP_LIVE();
    std::error_code ec;
    auto parent = std::filesystem::u8path(path).parent_path();
    if (!parent.empty() && !std::filesystem::is_directory(parent, ec))
        return hr::path_not_found;
    return state_->db->export_file(path);
}

Hr Group::import_database(const std::string& path)
{
    std::vector<Record> changed;
    {
        std::lock_guard lock(mutex_);
        PD_GROUP_LIVE();
        // Records are merged by the [MS-PPGRH] 3.1.7.32 rule, and only if every record of the
        // file is signed ([MS-PPSEC] 2.2.4) by a member whose GMC chain leads to this group's GRC
        // (its Membership record already stored or in the same file): a forged or altered file
        // changes nothing (PEER_E_INVALID_DATABASE).
        if (Hr h = state_->db->import_file(path, changed, [this](const std::vector<Record>& records) {
                return validate_signatures(records);
            });
            failed(h))
            return h;
        reload_properties();
    }
    for (auto& r : changed) {
        if (!is_app_record(r))
            continue;
        notify(record_event((r.flags & kFlagDeleted) ? kRecordDeleted : (r.version == 1 ? kRecordAdded : kRecordUpdated), r));
    }
    return hr::ok;
}

Hr Group::validate_signatures(const std::vector<Record>& records)
{
    State& s = *state_;
    pki::CertInfo grc;
    if (failed(pki::parse_cert(s.grc, grc)))
        return hr::invalid_group;
    // GMC serial (DER order) -> the certified key, from every valid Membership record.
    std::map<Bytes, Bytes> keys{{grc.serial, grc.spki}};
    std::vector<Record> members;
    s.db->list_records(&kMembershipType, true, members);
    for (const auto& r : records)
        if (r.type == kMembershipType)
            members.push_back(r);
    for (const auto& m : members) {
        std::vector<pki::CertInfo> ordered;
        if (failed(membership_chain(m, 0, ordered)) || ordered.front().spki != grc.spki)
            continue;
        for (const auto& c : ordered)
            keys.emplace(c.serial, c.spki);
    }
    for (const auto& r : records) {
        pki::RecordSecurity sec;
        if (failed(pki::parse_record_security(r.security, sec)))
            return hr::invalid_database;
        auto k = keys.find(sec.modifier_serial);
        if (k == keys.end() || failed(pki::verify_record_security(r, k->second, s.version)))
            return hr::invalid_database;
    }
    return hr::ok;
}

// ------------------------------------------------------------------------------------------------
// members

Hr Group::members(std::u16string_view filter, bool present_only, std::vector<MemberInfo>& out,
                  const std::vector<std::u16string>* connected)
{
    expire_now();
    std::lock_guard lock(mutex_);
    PD_GROUP_LIVE();
    out.clear();
    // Present ([doc] PEER_MEMBER): connected to this node, or this node while online.
    // Or with a live presence record ([MS-PPGRH] 3.1.7.4: type {00000400-...}, withdrawn by
    // deletion, gone at expiry).
    std::vector<std::u16string> with_presence;
    {
        Guid presence;
        presence.b[1] = 4;
        std::vector<Record> pres;
        const Ticks now = utc_now_ticks() + state_->delta;
        if (succeeded(state_->db->list_records(&presence, false, pres)))
            for (auto& p : pres)
                if (p.expires > now)
                    with_presence.push_back(p.creator);
    }
    auto is_present = [&](const std::u16string& id) {
        if (id == identity_)
            return state_->network_status != 0;
        if (std::find(with_presence.begin(), with_presence.end(), id) != with_presence.end())
            return true;
        return connected && std::find(connected->begin(), connected->end(), id) != connected->end();
    };
    std::vector<Record> recs;
    if (Hr h = state_->db->list_records(&kMembershipType, false, recs); failed(h))
        return h;
    std::map<std::u16string, Ticks> published;  // identity -> publication of the GMC listed
    for (auto& r : recs) {
        std::vector<pki::CertInfo> ordered;
        if (failed(membership_chain(r, utc_now_ticks(), ordered)))
            continue;
        const auto& leaf = ordered.back();
        if (!filter.empty() && leaf.subject_peer_name != filter)
            continue;
        MemberInfo m;
        m.identity = leaf.subject_peer_name;
        m.friendly_name = leaf.subject_name;
        m.spki = leaf.spki;
        m.issuer_peer_name = leaf.issuer_peer_name;
        m.issuer_friendly_name = leaf.issuer_name;
        m.valid_from = leaf.not_before;
        m.valid_to = leaf.not_after;
        m.roles = leaf.roles;
        m.present = is_present(m.identity);
        if (present_only && !m.present)
            continue;
        // A member whose credentials were published twice (by its issuer and by itself, or
        // renewed) is listed once, with the newest GMC (by validity start, then by the record's
        // publication time).
        auto same = std::find_if(out.begin(), out.end(), [&](const MemberInfo& x) { return x.identity == m.identity; });
        if (same != out.end()) {
            Ticks& seen = published[m.identity];
            if (same->valid_from < m.valid_from || (same->valid_from == m.valid_from && seen < r.modified)) {
                *same = std::move(m);
                seen = r.modified;
            }
            continue;
        }
        published[m.identity] = r.modified;
        // The local member first ([doc] PeerGroupEnumMembers).
        if (m.identity == identity_)
            out.insert(out.begin(), std::move(m));
        else
            out.push_back(std::move(m));
    }
    return hr::ok;
}

}  // namespace pd::p2p
