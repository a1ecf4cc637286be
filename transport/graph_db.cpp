// [MS-PPGRH] database synchronisation algorithms (3.1.7.27, 3.1.7.31, 3.1.5.2.2, 3.1.7.33).
// See graph_db.hpp for the decisions where the spec is silent.
#include "pd/transport/graph_db.hpp"

#include "pd/p2p/record_id.hpp"
#include "pd/transport/ppgrh.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

namespace pd::transport::graph {
namespace {

constexpr Ticks kTwentyMinutes = 20 * 60 * p2p::kTicksPerSecond;
constexpr std::size_t kMaxIdUnits = 255;  // 2..256 units including the NUL (3.1.7.27)

// MD5 over the RECORD_ABSTRACTs (ID in wire form, version big-endian) of a range.
class RangeHash {
public:
    RangeHash() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_md5(), nullptr); }
    ~RangeHash() { EVP_MD_CTX_free(ctx_); }
    RangeHash(const RangeHash&) = delete;
    RangeHash& operator=(const RangeHash&) = delete;
    void add(const Record& r)
    {
        std::uint8_t abstract[20];
        const WireId id = wire_id(r.id);
        std::copy(id.begin(), id.end(), abstract);
        abstract[16] = static_cast<std::uint8_t>(r.version >> 24);
        abstract[17] = static_cast<std::uint8_t>(r.version >> 16);
        abstract[18] = static_cast<std::uint8_t>(r.version >> 8);
        abstract[19] = static_cast<std::uint8_t>(r.version);
        EVP_DigestUpdate(ctx_, abstract, sizeof abstract);
    }
    std::array<std::uint8_t, 16> finish()
    {
        std::array<std::uint8_t, 16> out{};
        unsigned int n = 0;
        EVP_DigestFinal_ex(ctx_, out.data(), &n);
        EVP_DigestInit_ex(ctx_, EVP_md5(), nullptr);
        return out;
    }

private:
    EVP_MD_CTX* ctx_;
};

bool expired(const Record& r, Ticks now) { return r.expires <= now; }

// Index of the range (of `solicited`, sorted by upper bound) that `key` falls in: the first whose
// upper bound is >= key; keys above the last upper bound belong to the last range (open-ended).
std::size_t range_of(const std::vector<HashEntry>& solicited, const SyncKey& key)
{
    auto it = std::lower_bound(solicited.begin(), solicited.end(), key,
                               [](const HashEntry& e, const SyncKey& k) { return e.upper < k; });
    if (it == solicited.end())
        return solicited.size() - 1;
    return static_cast<std::size_t>(it - solicited.begin());
}

bool sorted_by_upper(const std::vector<HashEntry>& v)
{
    for (std::size_t i = 1; i < v.size(); ++i)
        if (!(v[i - 1].upper < v[i].upper))
            return false;
    return true;
}

}  // namespace

WireId wire_id(const Guid& g) { return ppgrh::guid_to_wire(g); }

Guid guid_from_wire(const WireId& w) { return ppgrh::guid_from_wire(std::span<const std::uint8_t, 16>(w)); }

SyncKey sync_key(const Record& r) { return {r.modified, wire_id(r.id)}; }

// ---- MemoryStore --------------------------------------------------------------------------------

const Record* MemoryStore::find(const Guid& id) const
{
    auto k = key_of_.find(id);
    if (k == key_of_.end())
        return nullptr;
    return &by_key_.at(k->second);
}

bool MemoryStore::put(const Record& r)
{
    erase(r.id);
    const SyncKey key = sync_key(r);
    by_key_.emplace(key, r);
    key_of_.emplace(r.id, key);
    return true;
}

void MemoryStore::erase(const Guid& id)
{
    auto k = key_of_.find(id);
    if (k == key_of_.end())
        return;
    by_key_.erase(k->second);
    key_of_.erase(k);
}

void MemoryStore::scan(const std::function<bool(const Record&)>& f) const
{
    for (const auto& [key, r] : by_key_)
        if (!f(r))
            return;
}

// ---- 3.1.7.27 -----------------------------------------------------------------------------------

std::optional<std::string_view> invalid_record(const Record& r, std::u16string_view graph_id, const Limits& limits)
{
    if (r.creator.empty() || r.creator.size() > kMaxIdUnits)
        return "Creator ID length out of range";
    // The signature record has a fixed Record ID (2.2.3.2), which no Creator ID hashes to.
    if (!p2p::record_id_matches_creator(r.id, r.creator) &&
        !(r.type == ppgrh::kRecordTypeSignature && r.id == ppgrh::kSignatureRecordId))
        return "Record ID not derived from the Creator ID";
    if (r.modified_by.size() > kMaxIdUnits)
        return "Last Modified By ID too long";
    if (r.expires <= r.modified)
        return "Expiration Time not after Last Modification Time";
    if (r.modified < r.created)
        return "Last Modification Time before Creation Time";
    if (graph_id.empty() || graph_id.size() > kMaxIdUnits || graph_id != limits.graph_id)
        return "Graph ID is not this graph's";
    if ((r.flags & 0x2) && !r.data.empty())
        return "deleted record with a payload";
    if (r.data.size() + 2 * r.attributes.size() > limits.max_record_size)
        return "larger than Max Record Size";
    if (r.modified == r.created && !r.modified_by.empty())
        return "Last Modified By ID set on a record never modified";
    return std::nullopt;
}

// ---- 3.1.7.31 -----------------------------------------------------------------------------------

std::vector<HashEntry> hash_entries(const Store& db, Ticks now)
{
    std::vector<HashEntry> out;
    RangeHash hash;
    std::size_t in_range = 0;
    SyncKey last;
    db.scan([&](const Record& r) {
        if (expired(r, now))
            return true;
        hash.add(r);
        last = sync_key(r);
        if (++in_range == kRecordsPerRange) {
            out.push_back({hash.finish(), last});
            in_range = 0;
        }
        return true;
    });
    if (in_range)
        out.push_back({hash.finish(), last});
    return out;
}

std::vector<Mismatch> advertise(const Store& db, const std::vector<HashEntry>& solicited, Ticks now)
{
    std::vector<Mismatch> out;
    if (solicited.empty() || !sorted_by_upper(solicited))
        return out;
    // One pass over the database in key order, range by range.
    struct Acc {
        std::vector<Abstract> records;
        SyncKey lower;
    };
    std::vector<Acc> acc(solicited.size());
    std::vector<std::unique_ptr<RangeHash>> hashes;
    hashes.reserve(solicited.size());
    for (std::size_t i = 0; i < solicited.size(); ++i)
        hashes.push_back(std::make_unique<RangeHash>());
    db.scan([&](const Record& r) {
        if (expired(r, now))
            return true;
        const SyncKey key = sync_key(r);
        const std::size_t i = range_of(solicited, key);
        if (acc[i].records.empty())
            acc[i].lower = key;
        acc[i].records.push_back({r.id, r.version});
        hashes[i]->add(r);
        return true;
    });
    for (std::size_t i = 0; i < solicited.size(); ++i) {
        if (hashes[i]->finish() == solicited[i].hash)
            continue;
        Mismatch m;
        m.upper = solicited[i].upper;
        m.lower = acc[i].records.empty() ? solicited[i].upper : acc[i].lower;
        m.records = std::move(acc[i].records);
        out.push_back(std::move(m));
    }
    return out;
}

Plan plan_after_advertise(const Store& db, const std::vector<HashEntry>& solicited, const std::vector<Mismatch>& advertised,
                          Ticks now)
{
    Plan plan;
    if (solicited.empty() || !sorted_by_upper(solicited))
        return plan;
    // Which of our ranges the responder found different, and what it holds there.
    std::vector<const Mismatch*> by_range(solicited.size(), nullptr);
    for (const auto& m : advertised) {
        auto it = std::find_if(solicited.begin(), solicited.end(), [&](const HashEntry& e) { return e.upper == m.upper; });
        if (it != solicited.end())
            by_range[static_cast<std::size_t>(it - solicited.begin())] = &m;
    }
    std::map<Guid, std::uint32_t> theirs;
    for (const auto* m : by_range)
        if (m)
            for (const auto& a : m->records) {
                auto [it, fresh] = theirs.emplace(a.id, a.version);
                if (!fresh)
                    it->second = std::max(it->second, a.version);
            }
    // Records To Request: missing here, or older here (not expired-and-purged ones: the responder
    // never advertises expired records).
    for (const auto& [id, version] : theirs) {
        const Record* mine = db.find(id);
        if (!mine || mine->version < version)
            plan.request.push_back({id, version});
    }
    // Records To Send: ours in a mismatched range that the responder lacks or holds older.
    db.scan([&](const Record& r) {
        if (expired(r, now))
            return true;
        const std::size_t i = range_of(solicited, sync_key(r));
        if (!by_range[i])
            return true;
        auto it = theirs.find(r.id);
        if (it == theirs.end() || it->second < r.version)
            plan.send.push_back(r.id);
        return true;
    });
    return plan;
}

// ---- 3.1.5.2.2 / 3.1.7.33 -------------------------------------------------------------------------

std::optional<Ticks> peer_time_delta_after_welcome(Ticks pt_welcome, Ticks t_connect, Ticks t_welcome, Ticks utc_now,
                                                   Ticks local_delta, bool first_neighbour, bool never_synced)
{
    const Ticks remote_now = pt_welcome + (t_welcome - t_connect) / 2;
    const Ticks local_now = utc_now - local_delta;
    const bool adopt_any = first_neighbour && never_synced;
    if (!adopt_any && std::llabs(remote_now - local_now) > kTwentyMinutes)
        return std::nullopt;
    const Ticks remote_delta = utc_now - remote_now;
    if (first_neighbour)
        return remote_delta;
    // 0.8 local + 0.2 remote, in integers: local + (remote - local) / 5.
    return local_delta + (remote_delta - local_delta) / 5;
}

std::int64_t next_utility(std::int64_t lu, bool useful)
{
    return lu - lu / 32 + (useful ? 128 : 0);
}

}  // namespace pd::transport::graph
