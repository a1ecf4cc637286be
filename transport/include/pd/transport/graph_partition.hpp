// [MS-PPGRH] signature records, contact records, partition detection and repair (1.3.2.1-1.3.2.5),
// sans-I/O, owned by a graph Node (graph_node.hpp) and driven from a few of its hooks: a record
// stored (received, synchronised or published by the application), a record expired, graph
// maintenance (3.1.7.16), the timer tick and leaving the graph.
//
//  - Signature (2.2.3.2, 3.1.7.6, 3.1.7.11, 3.1.6.4): the lowest node ID, published by that node
//    in the record with the fixed ID kSignatureRecordId, refreshed before it expires (300 s).
//  - Contacts (2.2.3.3, 3.1.7.5, 3.1.7.12, 3.1.6.3): self-selected nodes publishing their
//    addresses and their view of the signature; their number is kept in [Cmin, Cmax].
//  - Partition detection (3.1.7.13, 3.1.6.5): a live contact record whose signature differs from
//    the signature record's -> after 5..30 s, if still so, connect to that contact.
//  - Long-term repair (3.1.7.15): a contact asks the application for another connection
//    (Event::Kind::need_connection) at each periodic graph maintenance.
//
// Decisions (deviations where the spec leaves a gap):
//  - The signature record is always published as the publisher's own record: Creator ID = Last
//    Modified By ID = our Peer ID, Creation Time one tick before its Modification Time, version
//    one above the record the database holds, deleted or not. 3.1.7.6 keeps the previous
//    record's fields and creates a fresh version-1 record after a deletion, but then (a) a
//    deleted record still held by peers beats the new one under the conflict rule (3.1.7.32);
//    (b) nodes creating it at the same peer time publish records the conflict rule cannot order
//    (same version, no modifier, same time) and each keeps its own; (c) a group member that is
//    not an administrator may not modify another member's record ([MS-PPSEC] 3.1.7.2), so the
//    next-lowest node could not take over. The fixed Record ID is not derived from the Creator
//    ID; graph_db's 3.1.7.27 check accepts it for this record (the spec's own contradiction).
//  - A deleted signature record received also starts signature calculation (1.3.2.1: "each node
//    sees this deletion and does a random back-off"; 3.1.7.10.3 only mentions live records).
//  - A timer already armed is not re-armed (a stream of records would otherwise push it out
//    for ever); the timer re-checks its condition when it fires, as 3.1.6.3-5 say.
//  - Contacts refresh their record when the signature changes (1.3.2.2) and before it expires
//    (Autorefresh, 3.1.7.22); the signature node refreshes its signature record the same way.
//  - Partition detection also runs when a signature or contact record arrives (1.3.2.3: "each
//    node monitors"), not only at graph maintenance.
//  - Signature and contacts are kept only while the node is in the graph (listening, at least
//    one neighbour, not closed), like presence.
//
// Thread-safety: none; driven by its Node.
#pragma once
#include "pd/transport/graph_db.hpp"
#include "pd/transport/graph_messages.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace pd::transport::graph {

struct Actions;

class Partition {
public:
    // What the owning node provides.
    struct Hooks {
        std::function<Ticks()> peer_time;  // 3.1.5.2.2
        std::function<Ticks()> now;        // local clock (timers)
        std::function<bool()> in_graph;    // listening, connected to the graph, not closed
        std::function<std::vector<Address>()> listening;
        std::function<bool(const Address&)> linked_to;  // a link to that address exists
        // Secure (RecordGuard::secure), store, notify, flood; false if refused.
        std::function<bool(Record, Actions&)> store_and_flood;
    };
    struct Contact {  // a Contact List entry (3.1.1)
        Guid record_id;
        std::uint64_t signature = 0, node_id = 0;
        std::u16string peer_id;
        std::vector<Address> addresses;
    };

    static constexpr Ticks kSignatureLifetime = 300 * p2p::kTicksPerSecond;  // 3.1.7.6
    static constexpr Ticks kContactLifetime = 900 * p2p::kTicksPerSecond;    // 3.1.7.5
    static constexpr Ticks kRefreshBefore = 20 * p2p::kTicksPerSecond;       // 3.1.7.22

    Partition(std::uint64_t node_id, std::u16string peer_id, Store& db, Hooks hooks);

    // ---- hooks of the node --------------------------------------------------------------------
    // A signature or contact record was stored (from a peer, a sync, or the application).
    void on_record(const Record& r, Actions& out);
    // A record was removed by expiry (3.1.7.19, 3.1.7.21).
    void on_expired(const Record& r, Actions& out);
    // The first three steps of graph maintenance (3.1.7.16).
    void maintain(Actions& out);
    // The last step of graph maintenance (3.1.7.15); the node calls it on its maintenance timer.
    void long_term_repair(Actions& out);
    // Timers (3.1.6.3-5) and refreshing our own records.
    void tick(Actions& out);
    // Leaving the graph (3.1.4.12): the signature node deletes its signature record, a contact
    // its contact record. Flooded before the node's DISCONNECTs.
    void leave(Actions& out);

    // ---- state --------------------------------------------------------------------------------
    // The signature as the database holds it (a live signature record), if any.
    std::optional<std::uint64_t> signature() const;
    const std::map<Guid, Contact>& contacts() const { return contacts_; }
    // Connection candidates (3.1.7.14): the addresses of the Contact List but ours.
    std::vector<Address> contact_addresses() const;
    bool is_contact() const { return own_contact() != nullptr; }

    // ---- the spec's formulas (images in the spec) ----------------------------------------------
    // 3.1.7.11: N = top 8 bits of the node ID, d = 1 - e^(-N/65536), delay = 29.9 d + 0.1 s.
    static Ticks signature_delay(std::uint64_t node_id);
    // 3.1.7.12: Cmin = 5 if S >= 2^60, else 60 - log2 S; Cmax = Cmin + 5.
    static double contact_min(std::uint64_t signature);
    static double contact_max(std::uint64_t signature) { return contact_min(signature) + 5; }

private:
    const Record* signature_record() const;  // live or deleted, unexpired
    const Record* own_contact() const;       // live, with our node ID
    std::size_t live_contacts() const;
    void load();
    void signature_calculation(Actions& out);   // 3.1.7.11
    void contact_maintenance(Actions& out);     // 3.1.7.12
    void partition_detection(Actions& out);     // 3.1.7.13
    void signature_timer(Actions& out);         // 3.1.6.4
    void contact_timer(Actions& out);           // 3.1.6.3
    void partition_timer(Actions& out);         // 3.1.6.5
    void publish_signature(Actions& out);       // 3.1.7.6
    void publish_contact(Actions& out);         // 3.1.7.5
    void delete_record(const Record& mine, Actions& out);  // 3.1.7.9
    std::vector<const Contact*> mismatching() const;
    Ticks random_delay(int min_s, int max_s);

    std::uint64_t node_id_;
    std::u16string peer_id_;
    Store& db_;
    Hooks h_;
    std::map<Guid, Contact> contacts_;  // Contact List (3.1.1)
    bool loaded_ = false;
    std::optional<Ticks> signature_at_, contact_at_, partition_at_;
    std::mt19937_64 rng_;
};

}  // namespace pd::transport::graph
