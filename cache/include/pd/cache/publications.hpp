// SPDX-License-Identifier: MIT
//
// The machine's PeerDist publications (PeerDistServerPublishStream .. Unpublish), shared by every
// process: publications.db (SQLite) in the cache directory, one row per (user SID, content
// identifier) with the owner (process id, process start time, instance) and, once the stream is
// complete, the whole-content V1 and V2 content information.
//
// A publication lives while its owner does: rows of a process that is gone (killed, or exited
// without PeerDistShutdown) count as absent and are replaced. Thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace pd::cache {

struct Owner {
    std::uint32_t pid = 0;
    std::uint64_t start = 0;     // process start time (distinguishes a reused pid)
    std::uint64_t instance = 0;  // the PEERDIST_INSTANCE_HANDLE value inside that process
};

class Publications {
public:
    using Alive = std::function<bool(const Owner&)>;
    static std::shared_ptr<Publications> open(const std::filesystem::path& directory, Alive alive, std::string* error);
    ~Publications();

    // Registers (user, id) for owner: false if a live publication of it exists.
    bool add(const std::string& user, std::span<const std::uint8_t> id, const Owner& owner);
    // Stores the content information of a complete stream.
    void complete(const std::string& user, std::span<const std::uint8_t> id, const Owner& owner,
                  std::span<const std::uint8_t> v1, std::span<const std::uint8_t> v2);

    struct Found {
        Owner owner;
        bool complete = false;
        std::vector<std::uint8_t> v1, v2;
    };
    std::optional<Found> find(const std::string& user, std::span<const std::uint8_t> id);

    // Removes (user, id) if `owner` (its instance) published it. False otherwise.
    bool remove(const std::string& user, std::span<const std::uint8_t> id, const Owner& owner);
    // Removes every publication of an instance (PeerDistShutdown).
    void remove_all(const Owner& owner);

    struct Impl;
private:
    explicit Publications(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

} // namespace pd::cache
