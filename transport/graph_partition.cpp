// Signature and contact records, partition detection and repair. See graph_partition.hpp.
#include "pd/transport/graph_partition.hpp"

#include "pd/p2p/record_id.hpp"
#include "pd/p2p/record_wire.hpp"
#include "pd/transport/graph_node.hpp"

#include <algorithm>
#include <cmath>

namespace pd::transport::graph {
namespace {

constexpr Ticks kSecond = p2p::kTicksPerSecond;
constexpr Ticks kSignatureTimerPeriod = 24 * 3600 * kSecond;  // 3.1.6.4

bool live(const Record& r, Ticks now) { return !(r.flags & p2p::kRecordFlagDeleted) && r.expires > now; }

Address to_address(const ppgrh::PeerAddress& a)
{
    Address x;
    x.ip = a.ip;
    x.port = a.port;
    return x;
}

}  // namespace

Partition::Partition(std::uint64_t node_id, std::u16string peer_id, Store& db, Hooks hooks)
    : node_id_(node_id), peer_id_(std::move(peer_id)), db_(db), h_(std::move(hooks)), rng_(std::random_device{}() ^ node_id)
{
}

// ---- formulas -----------------------------------------------------------------------------------

Ticks Partition::signature_delay(std::uint64_t node_id)
{
    const double n = static_cast<double>(node_id >> 56);
    const double d = 1.0 - std::exp(-n / 65536.0);
    const double delay = d * 29.9 + 0.1;
    return static_cast<Ticks>(std::llround(delay * static_cast<double>(kSecond)));
}

double Partition::contact_min(std::uint64_t s)
{
    if (s >= (std::uint64_t{1} << 60))
        return 5;
    if (s == 0)
        return 60;  // log2 0 is -inf; a signature of 0 is the lowest possible: the cap is ours
    return 60 - std::log2(static_cast<double>(s));
}

// ---- state ----------------------------------------------------------------------------------------

const Record* Partition::signature_record() const
{
    const Record* r = db_.find(ppgrh::kSignatureRecordId);
    if (!r || r->type != signature_type() || r->expires <= h_.peer_time())
        return nullptr;
    return r;
}

std::optional<std::uint64_t> Partition::signature() const
{
    const Record* r = signature_record();
    if (!r || (r->flags & p2p::kRecordFlagDeleted))
        return std::nullopt;
    auto p = ppgrh::SignaturePayload::parse(r->data);
    if (!p)
        return std::nullopt;
    return p->signature;
}

const Record* Partition::own_contact() const
{
    const Ticks now = h_.peer_time();
    for (const auto& [id, c] : contacts_)
        if (c.node_id == node_id_)
            if (const Record* r = db_.find(id); r && live(*r, now) && r->type == contact_type())
                return r;
    return nullptr;
}

std::size_t Partition::live_contacts() const
{
    const Ticks now = h_.peer_time();
    std::size_t n = 0;
    for (const auto& [id, c] : contacts_)
        if (const Record* r = db_.find(id); r && live(*r, now))
            ++n;
    return n;
}

std::vector<Address> Partition::contact_addresses() const
{
    std::vector<Address> v;
    for (const auto& [id, c] : contacts_)
        if (c.node_id != node_id_)
            v.insert(v.end(), c.addresses.begin(), c.addresses.end());
    return v;
}

void Partition::load()
{
    // The Contact List of a database the node starts with (a persisted one).
    if (loaded_)
        return;
    loaded_ = true;
    std::vector<Record> found;
    db_.scan([&](const Record& r) {
        if (r.type == contact_type())
            found.push_back(r);
        return true;
    });
    for (const auto& r : found) {
        if (!live(r, h_.peer_time()))
            continue;
        if (auto p = ppgrh::ContactPayload::parse(r.data)) {
            Contact c{r.id, p->signature, p->node_id, r.modified_by.empty() ? r.creator : r.modified_by, {}};
            for (const auto& a : p->addresses)
                c.addresses.push_back(to_address(a));
            contacts_[r.id] = std::move(c);
        }
    }
}

// ---- hooks ----------------------------------------------------------------------------------------

void Partition::on_record(const Record& r, Actions& out)
{
    load();
    if (r.type == signature_type()) {
        if (r.id != ppgrh::kSignatureRecordId)
            return;
        // 3.1.7.10.3 (and a deletion too, 1.3.2.1).
        signature_calculation(out);
        // A contact's record follows the signature (1.3.2.2).
        if (const Record* mine = own_contact(); mine && h_.in_graph()) {
            auto p = ppgrh::ContactPayload::parse(mine->data);
            auto s = signature();
            if (p && s && p->signature != *s)
                publish_contact(out);
        }
        partition_detection(out);
    } else if (r.type == contact_type()) {
        // 3.1.7.10.4
        auto p = (r.flags & p2p::kRecordFlagDeleted) ? std::nullopt : ppgrh::ContactPayload::parse(r.data);
        if (!p) {
            contacts_.erase(r.id);
        } else {
            Contact c{r.id, p->signature, p->node_id, r.modified_by.empty() ? r.creator : r.modified_by, {}};
            for (const auto& a : p->addresses)
                c.addresses.push_back(to_address(a));
            contacts_[r.id] = std::move(c);
        }
        contact_maintenance(out);
        partition_detection(out);
    }
}

void Partition::on_expired(const Record& r, Actions& out)
{
    load();
    if (r.type == signature_type() && r.id == ppgrh::kSignatureRecordId) {
        signature_calculation(out);  // 3.1.7.19
    } else if (r.type == contact_type()) {
        contacts_.erase(r.id);
        contact_maintenance(out);  // 3.1.7.21
    }
}

void Partition::maintain(Actions& out)
{
    load();
    signature_calculation(out);
    contact_maintenance(out);
    partition_detection(out);
}

void Partition::long_term_repair(Actions& out)
{
    // 3.1.7.15: a contact asks the application for another connection.
    if (!h_.in_graph() || !own_contact())
        return;
    Event e;
    e.kind = Event::Kind::need_connection;
    e.node_id = node_id_;
    out.events.push_back(std::move(e));
}

void Partition::tick(Actions& out)
{
    load();
    const Ticks now = h_.now();
    if (signature_at_ && now >= *signature_at_)
        signature_timer(out);
    if (contact_at_ && now >= *contact_at_) {
        contact_at_.reset();
        contact_timer(out);
        contact_maintenance(out);  // still out of range (several contacts moved at once): again
    }
    if (partition_at_ && now >= *partition_at_) {
        partition_at_.reset();
        partition_timer(out);
        partition_detection(out);  // still mismatching (the connection failed): again later
    }
    if (!h_.in_graph())
        return;
    // Autorefresh (3.1.7.22) of what we publish.
    const Ticks pt = h_.peer_time();
    if (const Record* s = signature_record(); s && !(s->flags & p2p::kRecordFlagDeleted) &&
                                              s->expires - pt <= kRefreshBefore && signature() == node_id_)
        publish_signature(out);
    if (const Record* c = own_contact(); c && c->expires - pt <= kRefreshBefore)
        publish_contact(out);
}

void Partition::leave(Actions& out)
{
    signature_at_.reset();
    contact_at_.reset();
    partition_at_.reset();
    if (signature() == node_id_)
        if (const Record* s = signature_record())
            delete_record(*s, out);
    if (const Record* c = own_contact())
        delete_record(*c, out);
}

// ---- 3.1.7.11 / 3.1.6.4 -----------------------------------------------------------------------------

void Partition::signature_calculation(Actions& /*out*/)
{
    if (!h_.in_graph())
        return;
    Ticks delay = 0;
    if (auto s = signature()) {
        if (*s <= node_id_)
            return;
        delay = kSecond / 10;
    } else {
        delay = signature_delay(node_id_);
    }
    const Ticks at = h_.now() + delay;
    if (!signature_at_ || at < *signature_at_)
        signature_at_ = at;
}

void Partition::signature_timer(Actions& out)
{
    signature_at_ = h_.now() + kSignatureTimerPeriod;
    if (!h_.in_graph())
        return;
    auto s = signature();
    if (!s || *s > node_id_)
        publish_signature(out);
}

void Partition::publish_signature(Actions& out)
{
    // Always as our own record: Creator = Last Modified By = us, Creation Time one tick before
    // the Modification Time, version one above the record held (deleted or not). See the header.
    const Ticks now = h_.peer_time();
    const Record* old = db_.find(ppgrh::kSignatureRecordId);
    Record r;
    r.type = signature_type();
    r.id = ppgrh::kSignatureRecordId;
    r.creator = r.modified_by = peer_id_;
    r.version = 1;
    r.modified = now;
    if (old && old->type == signature_type()) {
        r.version = old->version + 1;
        r.modified = std::max(now, old->modified + 1);
    }
    r.created = r.modified - 1;
    r.flags = p2p::kRecordFlagAutoRefresh;
    r.expires = r.modified + kSignatureLifetime;
    r.data = ppgrh::SignaturePayload{node_id_}.encode();
    h_.store_and_flood(std::move(r), out);
}

// ---- 3.1.7.12 / 3.1.6.3 -----------------------------------------------------------------------------

void Partition::contact_maintenance(Actions& out)
{
    (void)out;
    if (!h_.in_graph() || contact_at_)
        return;
    auto s = signature();
    if (!s)
        return;
    const double n = static_cast<double>(live_contacts());
    const bool mine = own_contact() != nullptr;
    if ((!mine && n < contact_min(*s)) || (mine && n > contact_max(*s)))
        contact_at_ = h_.now() + random_delay(10, 180);
}

void Partition::contact_timer(Actions& out)
{
    if (!h_.in_graph())
        return;
    auto s = signature();
    if (!s)
        return;
    const double n = static_cast<double>(live_contacts());
    if (const Record* mine = own_contact()) {
        if (n > contact_max(*s))
            delete_record(*mine, out);
    } else if (n < contact_min(*s)) {
        publish_contact(out);
    }
}

void Partition::publish_contact(Actions& out)
{
    auto s = signature();
    if (!s)
        return;
    const Ticks now = h_.peer_time();
    const Record* old = own_contact();
    Record r;
    if (old) {
        r = *old;
        r.version = old->version + 1;
        r.modified_by = peer_id_;
        r.modified = std::max(now, old->modified + 1);
        r.security.clear();
    } else {
        r.type = contact_type();
        r.creator = peer_id_;
        r.id = p2p::new_record_id(r.creator);
        r.version = 1;
        r.created = r.modified = now;
    }
    r.flags = p2p::kRecordFlagAutoRefresh;
    r.expires = r.modified + kContactLifetime;
    ppgrh::ContactPayload p;
    p.signature = *s;
    p.node_id = node_id_;
    for (const auto& a : h_.listening())
        p.addresses.push_back({a.ip, a.port, 0});
    r.data = p.encode();
    h_.store_and_flood(std::move(r), out);  // on_record (called by the node) fills the list
}

void Partition::delete_record(const Record& mine, Actions& out)
{
    // 3.1.7.9: marked deleted (no payload), kept until it expires.
    Record r = mine;
    r.version = mine.version + 1;
    r.flags = p2p::kRecordFlagDeleted;
    r.data.clear();
    r.security.clear();
    r.modified_by = peer_id_;
    r.modified = std::max(h_.peer_time(), mine.modified + 1);
    if (r.expires <= r.modified)
        r.expires = r.modified + 1;
    h_.store_and_flood(std::move(r), out);
}

// ---- 3.1.7.13 / 3.1.6.5 -----------------------------------------------------------------------------

std::vector<const Partition::Contact*> Partition::mismatching() const
{
    std::vector<const Contact*> v;
    auto s = signature();
    if (!s)
        return v;
    const Ticks now = h_.peer_time();
    for (const auto& [id, c] : contacts_)
        if (c.signature != *s && c.node_id != node_id_)
            if (const Record* r = db_.find(id); r && live(*r, now))
                v.push_back(&c);
    return v;
}

void Partition::partition_detection(Actions& out)
{
    (void)out;
    if (!h_.in_graph() || partition_at_)
        return;
    if (!mismatching().empty())
        partition_at_ = h_.now() + random_delay(5, 30);
}

void Partition::partition_timer(Actions& out)
{
    if (!h_.in_graph())
        return;
    std::vector<const Contact*> v;
    for (const Contact* c : mismatching())
        if (!c->addresses.empty() &&
            std::none_of(c->addresses.begin(), c->addresses.end(), [&](const Address& a) { return h_.linked_to(a); }))
            v.push_back(c);
    if (v.empty())
        return;
    // 3.1.6.5: a new connection to the contact whose record does not match (one per firing).
    const Contact* c = v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng_)];
    out.connect.emplace_back(c->addresses.front(), ConnectionType::neighbor);
}

Ticks Partition::random_delay(int min_s, int max_s)
{
    return std::uniform_int_distribution<Ticks>(min_s * kSecond, max_s * kSecond)(rng_);
}

}  // namespace pd::transport::graph
