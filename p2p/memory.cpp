// PeerFreeData and the enumeration functions; the flat-block builder behind every returned pointer.
#include "memory.h"

#include <algorithm>
#include <unordered_set>

namespace pd::p2pdll {

HandleTable& handles()
{
    static HandleTable table;
    return table;
}

pd::p2p::Ticks now_utc()
{
    FILETIME f;
    GetSystemTimeAsFileTime(&f);
    return from_filetime(f);
}

bool peernet_disabled()
{
    DWORD value = 0, size = sizeof value;
    LSTATUS rc = RegGetValueW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Policies\\Microsoft\\Peernet", L"Disabled",
                              RRF_RT_REG_DWORD, nullptr, &value, &size);
    return rc == ERROR_SUCCESS && value == 1;
}

// --- blocks ------------------------------------------------------------------------------------

// PeerFreeData must never touch memory it did not hand out: any pointer can arrive (NULL, a small
// integer, a stack or malloc'd pointer, a pointer into one of our blocks, one freed already). So
// nothing is read at or around the pointer: every live block is recorded in a set, under a lock,
// and PeerFreeData releases a pointer only when it is in that set (removing it). Anything else is
// ignored and logged. A block is released at most once; the one case a registry cannot tell apart
// is a stale pointer whose address the heap has since reused for a newer block of ours
// (docs/compat.md).
namespace {
HANDLE heap()
{
    static HANDLE h = GetProcessHeap();
    return h;
}
struct LiveBlocks {
    std::mutex mutex;
    std::unordered_set<const void*> set;
};
// Never destroyed: PeerFreeData may be called from static destructors or after DLL_PROCESS_DETACH
// began tearing down other statics.
LiveBlocks& live()
{
    static LiveBlocks* l = new LiveBlocks;
    return *l;
}
} // namespace

void* flat_alloc(size_t size)
{
    void* p = HeapAlloc(heap(), HEAP_ZERO_MEMORY, size ? size : 1);
    if (!p)
        return nullptr;
    try {
        LiveBlocks& l = live();
        std::lock_guard lock(l.mutex);
        l.set.insert(p);
    } catch (...) {
        HeapFree(heap(), 0, p);
        return nullptr;
    }
    return p;
}

bool flat_free(const void* p)
{
    if (!p)
        return true;
    {
        LiveBlocks& l = live();
        std::lock_guard lock(l.mutex);
        if (l.set.erase(p) == 0) {
            PD_WARN("PeerFreeData: {} is not a live block returned by p2p.dll (ignored)", p);
            return false;
        }
    }
    HeapFree(heap(), 0, const_cast<void*>(p));
    return true;
}

size_t FlatBuilder::reserve_raw(size_t size, size_t align)
{
    size_t off = (buf_.size() + align - 1) / align * align;
    buf_.resize(off + size, 0);
    return off;
}

size_t FlatBuilder::str(std::u16string_view s)
{
    size_t off = reserve_raw((s.size() + 1) * sizeof(char16_t), alignof(char16_t));
    if (!s.empty())
        std::memcpy(buf_.data() + off, s.data(), s.size() * sizeof(char16_t));
    return off;
}

size_t FlatBuilder::bytes(const void* data, size_t size)
{
    size_t off = reserve_raw(size, 8);
    if (size)
        std::memcpy(buf_.data() + off, data, size);
    return off;
}

void FlatBuilder::link(size_t field, size_t target)
{
    std::uint64_t v = target;
    std::memcpy(buf_.data() + field, &v, sizeof v);
    fixups_.push_back(field);
}

void* FlatBuilder::finish()
{
    auto* base = static_cast<std::uint8_t*>(flat_alloc(std::max<size_t>(buf_.size(), 1)));
    if (!base)
        return nullptr;
    std::memcpy(base, buf_.data(), buf_.size());
    for (size_t f : fixups_) {
        std::uint64_t off;
        std::memcpy(&off, base + f, sizeof off);
        std::uint8_t* p = base + off;
        std::memcpy(base + f, &p, sizeof p);
    }
    return base;
}

HRESULT return_string(std::u16string_view s, PWSTR* out)
{
    FlatBuilder b;
    b.str(s);
    void* p = b.finish();
    if (!p)
        return E_OUTOFMEMORY;
    *out = static_cast<PWSTR>(p);
    return S_OK;
}

HRESULT make_enum(std::vector<ItemWriter> items, HPEERENUM* out, std::uint64_t epoch)
{
    auto e = std::make_shared<Enumeration>();
    e->items = std::move(items);
    e->epoch = epoch;
    std::uint64_t h = handles().insert(kEnum, e);
    if (!h)
        return E_OUTOFMEMORY;
    *out = to_handle(h);
    return S_OK;
}

} // namespace pd::p2pdll

using namespace pd::p2pdll;

namespace {

// The live enumeration behind a handle, or nullptr (closed, foreign, or a group enumeration of an
// earlier Startup period). Only the handle's value is decoded; nothing is read through it.
std::shared_ptr<Enumeration> lookup_enum(HPEERENUM h)
{
    auto e = handles().lookup<Enumeration>(handle_value(h), kEnum);
    if (e && e->epoch && e->epoch != group_epoch())
        return nullptr;
    return e;
}

} // namespace

extern "C" {

VOID WINAPI PeerFreeData(LPCVOID pvData)
{
    try {
        flat_free(pvData);
    } catch (...) {
    }
}

HRESULT WINAPI PeerGetItemCount(HPEERENUM hPeerEnum, ULONG* pCount)
{
    return guarded("PeerGetItemCount", [&]() -> HRESULT {
        if (!pCount)
            return E_INVALIDARG;
        auto e = lookup_enum(hPeerEnum);
        if (!e)
            return E_INVALIDARG;
        std::lock_guard lock(e->mutex);
        // All items of the enumeration, whatever PeerGetNextItem has returned already.
        *pCount = static_cast<ULONG>(e->items.size());
        return S_OK;
    });
}

HRESULT WINAPI PeerGetNextItem(HPEERENUM hPeerEnum, ULONG* pCount, PVOID** pppvItems)
{
    return guarded("PeerGetNextItem", [&]() -> HRESULT {
        if (!pCount || !pppvItems)
            return E_INVALIDARG;
        auto e = lookup_enum(hPeerEnum);
        if (!e)
            return E_INVALIDARG;
        std::lock_guard lock(e->mutex);
        size_t n = std::min<size_t>(*pCount, e->items.size() - e->next);
        if (n == 0) {
            // The end (or a request for 0 items): nothing to free.
            *pCount = 0;
            *pppvItems = nullptr;
            return S_OK;
        }
        // One block: the array of n pointers, then the items it points to.
        FlatBuilder b;
        size_t array = b.reserve<void*>(n);
        for (size_t i = 0; i < n; ++i) {
            size_t item = e->items[e->next + i](b);
            b.link(array + i * sizeof(void*), item);
        }
        void* block = b.finish();
        if (!block)
            return E_OUTOFMEMORY;
        e->next += n;
        *pCount = static_cast<ULONG>(n);
        *pppvItems = static_cast<PVOID*>(block);
        return S_OK;
    });
}

HRESULT WINAPI PeerEndEnumeration(HPEERENUM hPeerEnum)
{
    return guarded("PeerEndEnumeration", [&]() -> HRESULT {
        if (!lookup_enum(hPeerEnum))
            return E_INVALIDARG;
        return handles().remove<Enumeration>(handle_value(hPeerEnum), kEnum) ? S_OK : E_INVALIDARG;
    });
}

} // extern "C"
