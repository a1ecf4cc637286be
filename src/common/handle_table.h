// A table of typed handles with generations, shared by the API layers of both DLLs.
//
// Contract:
//  - A handle value encodes (generation, type, slot). Looking a handle up with the wrong type, after
//    it was removed, or after its slot was reused by another object always fails: a closed,
//    stale or foreign handle can never reach another object.
//  - Values are never 0 and never INVALID_HANDLE_VALUE (all bits set), so callers can keep using
//    those as "no handle".
//  - Objects are held by shared_ptr: a lookup keeps its object alive while the caller uses it,
//    even if another thread removes the handle meanwhile.
//  - Thread-safe; the lock is never held while calling out (for_each copies first).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace pd {

class HandleTable {
public:
    // Layout of a 64-bit value: [generation:32][type:8][slot+1:24]. Type 0xff is never used, so
    // the value is never ~0; slot+1 is never 0, so the value is never 0.
    static constexpr unsigned kSlotBits = 24;
    static constexpr std::uint32_t kMaxSlots = (1u << kSlotBits) - 1;

    // Returns 0 when the table is full (kMaxSlots live handles).
    std::uint64_t insert(std::uint8_t type, std::shared_ptr<void> object)
    {
        std::lock_guard lock(mutex_);
        std::uint32_t slot;
        if (!free_.empty()) {
            slot = free_.back();
            free_.pop_back();
        } else {
            if (slots_.size() >= kMaxSlots)
                return 0;
            slot = static_cast<std::uint32_t>(slots_.size());
            slots_.emplace_back();
        }
        Slot& s = slots_[slot];
        s.generation = next_generation_++;
        if (next_generation_ == 0)
            next_generation_ = 1;
        s.type = type;
        s.object = std::move(object);
        return encode(s.generation, type, slot);
    }

    // The object behind a live handle of the given type, or nullptr.
    template <typename T>
    std::shared_ptr<T> lookup(std::uint64_t value, std::uint8_t type) const
    {
        std::lock_guard lock(mutex_);
        const Slot* s = find(value, type);
        return s ? std::static_pointer_cast<T>(s->object) : nullptr;
    }

    // Removes a live handle of the given type and returns its object, or nullptr.
    template <typename T>
    std::shared_ptr<T> remove(std::uint64_t value, std::uint8_t type)
    {
        std::lock_guard lock(mutex_);
        Slot* s = const_cast<Slot*>(find(value, type));
        if (!s)
            return nullptr;
        auto object = std::static_pointer_cast<T>(std::move(s->object));
        s->object.reset();
        s->type = 0;
        free_.push_back(slot_of(value));
        return object;
    }

    // Calls fn(handle, object) for every live handle of the type, outside the lock.
    template <typename T>
    void for_each(std::uint8_t type, const std::function<void(std::uint64_t, const std::shared_ptr<T>&)>& fn) const
    {
        std::vector<std::pair<std::uint64_t, std::shared_ptr<T>>> copy;
        {
            std::lock_guard lock(mutex_);
            for (std::uint32_t i = 0; i < slots_.size(); ++i)
                if (slots_[i].object && slots_[i].type == type)
                    copy.emplace_back(encode(slots_[i].generation, type, i), std::static_pointer_cast<T>(slots_[i].object));
        }
        for (auto& [value, object] : copy)
            fn(value, object);
    }

    std::size_t size() const
    {
        std::lock_guard lock(mutex_);
        return slots_.size() - free_.size();
    }

private:
    struct Slot {
        std::uint32_t generation = 0;
        std::uint8_t type = 0;
        std::shared_ptr<void> object;
    };

    static std::uint64_t encode(std::uint32_t generation, std::uint8_t type, std::uint32_t slot)
    {
        return (std::uint64_t{generation} << 32) | (std::uint64_t{type} << kSlotBits) | (slot + 1);
    }
    static std::uint32_t slot_of(std::uint64_t value) { return static_cast<std::uint32_t>(value & kMaxSlots) - 1; }

    const Slot* find(std::uint64_t value, std::uint8_t type) const
    {
        if (type == 0 || type == 0xff)
            return nullptr;
        std::uint32_t low = static_cast<std::uint32_t>(value & kMaxSlots);
        if (low == 0 || low > slots_.size())
            return nullptr;
        const Slot& s = slots_[low - 1];
        if (!s.object || s.type != type || ((value >> kSlotBits) & 0xff) != type || (value >> 32) != s.generation)
            return nullptr;
        return &s;
    }

    mutable std::mutex mutex_;
    std::vector<Slot> slots_;
    std::vector<std::uint32_t> free_;
    std::uint32_t next_generation_ = 1;
};

} // namespace pd
