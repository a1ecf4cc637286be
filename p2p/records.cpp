// Grouping exports for records: PeerGroupAddRecord / UpdateRecord / DeleteRecord / GetRecord /
// EnumRecords / SearchRecords. Thin shims over pd::p2p::Group (src/p2p/group.cpp).
#include "group.h"
#include "memory.h"

using namespace pd::p2pdll;
namespace p2p = pd::p2p;

namespace {

// Attribute XML and data come from the caller: bounded before copying.
constexpr size_t kMaxAttributeChars = 64 * 1024 * 1024;

HRESULT read_record(const PEER_RECORD* in, p2p::Record& out)
{
    if (in->dwSize != sizeof(PEER_RECORD))
        return E_INVALIDARG;
    out.type = to_guid(in->type);
    out.id = to_guid(in->id);
    out.version = in->dwVersion;
    out.flags = in->dwFlags;
    if (in->pwzAttributes) {
        size_t n = bounded_len(in->pwzAttributes, kMaxAttributeChars);
        if (n > kMaxAttributeChars)
            return PEER_E_MAX_RECORD_SIZE_EXCEEDED;
        out.attributes.assign(reinterpret_cast<const char16_t*>(in->pwzAttributes), n);
    }
    out.expires = from_filetime(in->ftExpiration);
    if (in->data.cbData) {
        if (!in->data.pbData)
            return E_INVALIDARG;
        if (in->data.cbData > p2p::kMaxRecordBytes)
            return PEER_E_MAX_RECORD_SIZE_EXCEEDED;
        out.data.assign(in->data.pbData, in->data.pbData + in->data.cbData);
    }
    return S_OK;
}

size_t write_record(FlatBuilder& b, const p2p::Record& r)
{
    size_t s = b.reserve<PEER_RECORD>();
    auto* o = b.at<PEER_RECORD>(s);
    o->dwSize = sizeof(PEER_RECORD);
    o->type = from_guid(r.type);
    o->id = from_guid(r.id);
    o->dwVersion = r.version;
    o->dwFlags = r.flags;
    o->ftCreation = to_filetime(r.created);
    o->ftExpiration = to_filetime(r.expires);
    o->ftLastModified = to_filetime(r.modified);
    o->securityData.cbData = static_cast<ULONG>(r.security.size());
    o->data.cbData = static_cast<ULONG>(r.data.size());
    b.link_str(s + offsetof(PEER_RECORD, pwzCreatorId), r.creator);
    // A record never modified has no modifier on the wire ([MS-PPGRH] 3.1.7.2); the API reports
    // its creator as the last modifier.
    b.link_str(s + offsetof(PEER_RECORD, pwzModifiedById), r.modified_by.empty() ? r.creator : r.modified_by);
    b.link_str_or_null(s + offsetof(PEER_RECORD, pwzAttributes), r.attributes);
    if (!r.security.empty())
        b.link(s + offsetof(PEER_RECORD, securityData.pbData), b.bytes(r.security.data(), r.security.size()));
    if (!r.data.empty())
        b.link(s + offsetof(PEER_RECORD, data.pbData), b.bytes(r.data.data(), r.data.size()));
    return s;
}

// A group enumeration of records: it lives as long as the group handle's Startup period (epoch).
HRESULT records_enum(std::vector<p2p::Record> records, std::uint64_t epoch, HPEERENUM* out)
{
    std::vector<ItemWriter> items;
    items.reserve(records.size());
    auto shared = std::make_shared<std::vector<p2p::Record>>(std::move(records));
    for (size_t i = 0; i < shared->size(); ++i)
        items.push_back([shared, i](FlatBuilder& b) { return write_record(b, (*shared)[i]); });
    return make_enum(std::move(items), out, epoch);
}

} // namespace

extern "C" {

HRESULT WINAPI PeerGroupAddRecord(HGROUP hGroup, PPEER_RECORD pRecord, GUID* pRecordId)
{
    return guarded("PeerGroupAddRecord", [&]() -> HRESULT {
        std::shared_ptr<GroupHandle> g;
        if (HRESULT h = lookup_group(hGroup, PEER_E_INVALID_GROUP, g); FAILED(h))
            return h;
        if (!pRecord || !pRecordId)
            return E_INVALIDARG;
        p2p::Record rec;
        if (HRESULT h = read_record(pRecord, rec); FAILED(h))
            return h;
        if (HRESULT h = g->group->add_record(rec); FAILED(h))
            return h;
        *pRecordId = from_guid(rec.id);
        return S_OK;
    });
}

HRESULT WINAPI PeerGroupUpdateRecord(HGROUP hGroup, PPEER_RECORD pRecord)
{
    return guarded("PeerGroupUpdateRecord", [&]() -> HRESULT {
        std::shared_ptr<GroupHandle> g;
        if (HRESULT h = lookup_group(hGroup, PEER_E_INVALID_GROUP, g); FAILED(h))
            return h;
        if (!pRecord)
            return E_INVALIDARG;
        p2p::Record rec, stored;
        if (HRESULT h = read_record(pRecord, rec); FAILED(h))
            return h;
        return g->group->update_record(rec, stored);
    });
}

HRESULT WINAPI PeerGroupDeleteRecord(HGROUP hGroup, const GUID* pRecordId)
{
    return guarded("PeerGroupDeleteRecord", [&]() -> HRESULT {
        std::shared_ptr<GroupHandle> g;
        if (HRESULT h = lookup_group(hGroup, PEER_E_INVALID_GROUP, g); FAILED(h))
            return h;
        if (!pRecordId)
            return E_INVALIDARG;
        return g->group->delete_record(to_guid(*pRecordId));
    });
}

HRESULT WINAPI PeerGroupGetRecord(HGROUP hGroup, const GUID* pRecordId, PPEER_RECORD* ppRecord)
{
    return guarded("PeerGroupGetRecord", [&]() -> HRESULT {
        std::shared_ptr<GroupHandle> g;
        if (HRESULT h = lookup_group(hGroup, PEER_E_INVALID_GROUP, g); FAILED(h))
            return h;
        if (!pRecordId || !ppRecord)
            return E_INVALIDARG;
        p2p::Record rec;
        if (HRESULT h = g->group->get_record(to_guid(*pRecordId), rec); FAILED(h))
            return h;
        FlatBuilder b;
        write_record(b, rec);
        void* block = b.finish();
        if (!block)
            return E_OUTOFMEMORY;
        *ppRecord = static_cast<PPEER_RECORD>(block);
        return S_OK;
    });
}

HRESULT WINAPI PeerGroupEnumRecords(HGROUP hGroup, const GUID* pRecordType, HPEERENUM* phPeerEnum)
{
    return guarded("PeerGroupEnumRecords", [&]() -> HRESULT {
        std::shared_ptr<GroupHandle> g;
        if (HRESULT h = lookup_group(hGroup, PEER_E_INVALID_GROUP, g); FAILED(h))
            return h;
        if (!phPeerEnum)
            return E_INVALIDARG;
        p2p::Guid type;
        if (pRecordType)
            type = to_guid(*pRecordType);
        std::vector<p2p::Record> records;
        if (HRESULT h = g->group->enum_records(pRecordType ? &type : nullptr, records); FAILED(h))
            return h;
        return records_enum(std::move(records), g->epoch, phPeerEnum);
    });
}

HRESULT WINAPI PeerGroupSearchRecords(HGROUP hGroup, PCWSTR pwzCriteria, HPEERENUM* phPeerEnum)
{
    return guarded("PeerGroupSearchRecords", [&]() -> HRESULT {
        std::shared_ptr<GroupHandle> g;
        if (HRESULT h = lookup_group(hGroup, E_INVALIDARG, g); FAILED(h))
            return h;
        if (!pwzCriteria || !phPeerEnum)
            return E_INVALIDARG;
        if (bounded_len(pwzCriteria, 1u << 20) > (1u << 20))
            return PEER_E_INVALID_SEARCH;
        std::vector<p2p::Record> records;
        if (HRESULT h = g->group->search_records(u16(pwzCriteria), records); FAILED(h))
            return h;
        return records_enum(std::move(records), g->epoch, phPeerEnum);
    });
}

} // extern "C"
