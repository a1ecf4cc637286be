// SPDX-License-Identifier: MIT
//
// The PeerDist content cache: verified content blocks on disk, shared by every process of the
// machine (under Wine: of the prefix), persistent across restarts.
//
// Storage: an index in SQLite (WAL journal) and the block bytes in one data file per segment,
// each block at its own offset inside its segment (so that a read of consecutive blocks is one
// positional read of one file):
//   index.db  segments(id AUTOINCREMENT, hohodk UNIQUE, bytes, created, last_used, secret, algorithm,
//                     block_count) - one row per segment ID ([MS-PCCRC] 2.2: HoHoDk) with cached
//                     blocks; secret (Kp), algorithm and block_count are what serving it to peers
//                     needs (schema 3; a schema-2 index is migrated at open)
//             blocks(segment, idx, hash, pos, length)  - a V1 block (<= 64 KiB, pos = idx * 64 KiB)
//                     or a whole V2 segment (<= 128 KiB, idx 0, pos 0)
//             tags(tag, segment)  - PEERDIST_CONTENT_TAGs that added data to a segment (FlushContent)
//             meta(key, value)    - schema version, total block bytes
//   data/XX/<id>.seg  the bytes of segment <id> (XX = id mod 256 in hex); ids are never reused, so
//                     a file name always means the same bytes.
//
// Contracts:
//  - Never an unverified byte: put() is given data that the caller has verified against its
//    content information ([MS-PCCRC] 4.1.2/4.1.3); the store records the block hash with the
//    bytes, a read names the hash it expects, and read() checks the bytes it returns against that
//    hash, whatever happened to the files on disk. A block is hashed on its first read in a
//    process and again whenever its data file changed since (File::Stamp: size, mtime and ctime,
//    taken before and after the copy); a block that fails is dropped from the index (reported
//    missing from then on, so it is fetched again) and logged.
//  - Repair: put() of a block whose row exists compares the stored bytes with the verified ones
//    and rewrites them when they differ or are gone, so AddData of correct bytes always repairs.
//  - Self-healing: at open, segments whose data file is missing lose their rows and blocks past
//    the end of a truncated file are dropped; an index.db that SQLite reports corrupt (at open or
//    at any later use) is copied to quarantine/ and reset to an empty cache (through SQLite's
//    own locking, so other processes see an empty cache, not a torn one). Each repair is logged
//    at warn level.
//  - Crash safety: a put writes the bytes of its blocks into their data files first and then
//    commits their index rows in one transaction; a block is visible only through its row. A
//    process killed at any point leaves either all of a put's blocks or none (bytes written
//    without a row are never read and are overwritten by the next put of that block); committed
//    puts survive. Files are deleted only after the transaction that dropped their rows
//    committed; files left by a kill between the two are removed by the next open. Data files
//    are not flushed to disk before the commit: durability against power loss is not promised.
//  - Limits: after a put the total block bytes are kept <= quota by evicting least-recently-used
//    segments (whole segments), and segments older than max_age are evicted.
//  - Thread safety: every member may be called from any thread. Reads use a pool of read
//    connections (readers never wait for the writer); writes are serialised.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace pd::cache {

using Bytes = std::span<const std::uint8_t>;

struct Config {
    std::filesystem::path directory;                   // holds index.db (created if missing)
    std::uint64_t quota_bytes = 0;                     // 0: 5 % of the volume holding `directory`
    std::chrono::seconds max_age{28ull * 24 * 3600};   // Windows' default segment age: 28 days
    // A data file unchanged this long keeps this process's verifications of its blocks (reads
    // then skip hashing); until then every read hashes what it serves. The default outlasts the
    // kernel's dirty-page expiry (see store.cpp, Store::Impl::checked); tests may shorten it.
    std::chrono::milliseconds settle{60000};
};

// Identity of one cached block: segment ID, block index and the hash the block's bytes have.
struct BlockKey {
    Bytes segment;          // HoHoDk (32, 48 or 64 bytes)
    std::uint32_t index = 0;
    Bytes hash;             // V1 block hash, V2 segment HoD
    // How `hash` is computed from the block's bytes: the [MS-PCCRC] hash algorithm identifier
    // (pd::pccrc::HashAlgorithm: 0x800C/D/E for V1, 0x04 truncated SHA-512 for V2). A key with an
    // unknown algorithm never matches stored bytes.
    std::uint32_t algorithm = 0;
};

struct PutBlock {
    BlockKey key;
    std::uint32_t position = 0;        // offset of the block inside its segment
    std::uint32_t segment_length = 0;  // the segment's length: its data file is made this large
    Bytes data;
    // What serving the segment to peers needs, from its content information (recorded on the
    // segment's row; empty secret: not recorded, the segment is then not served):
    Bytes segment_secret{};            // Kp ([MS-PCCRC] 2.2), the key of [MS-PCCRR] 3.2.5.3
    std::uint32_t segment_blocks = 0;  // blocks in the whole segment (V1: <= 512; V2: 1)
};

// A cached segment as a serving peer sees it ([MS-PCCRD] answers, [MS-PCCRR] BLKLIST / BLK).
struct SegmentEntry {
    std::vector<std::uint8_t> id;      // HoHoDk
    std::vector<std::uint8_t> secret;  // Kp; empty when unknown (cached by an older build)
    std::uint32_t algorithm = 0;       // hash algorithm of its blocks (as BlockKey::algorithm)
    std::uint32_t block_count = 0;     // blocks in the whole segment; 0 when unknown
    std::vector<std::uint32_t> blocks; // indexes of the blocks cached, ascending
    std::int64_t created = 0;          // when its first block was cached (seconds since 1970)
    bool servable() const { return !secret.empty() && block_count != 0; }
    bool complete() const { return block_count != 0 && blocks.size() >= block_count; }
};

struct ReadBlock {
    BlockKey key;
    std::uint32_t offset = 0;       // first byte wanted inside the block
    std::span<std::uint8_t> out;    // receives out.size() bytes
};

struct Stats {
    std::uint64_t bytes = 0;        // block bytes stored
    std::uint64_t segments = 0;
    std::uint64_t blocks = 0;
    std::uint64_t quota_bytes = 0;
    // Since this Store was opened (this process): blocks hashed on read, blocks dropped because
    // their stored bytes were wrong or gone, blocks rewritten by put(), index resets.
    std::uint64_t verified = 0;
    std::uint64_t dropped = 0;
    std::uint64_t repaired = 0;
    std::uint64_t resets = 0;
};

using Tag = std::span<const std::uint8_t, 16>;

class Store {
public:
    // Opens (creating if needed) the cache in config.directory. nullptr and *error on failure.
    static std::shared_ptr<Store> open(const Config& config, std::string* error);
    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    // For each key, whether that block is cached with that hash (one read transaction).
    std::vector<bool> contains(std::span<const BlockKey> keys);

    // Copies the requested bytes of consecutive blocks, in one read transaction, stopping at the
    // first block that is not cached (or cached with another hash, or whose stored bytes do not
    // hash to it: that block is dropped). Returns how many requests were satisfied in full; the
    // bytes of requests past that count are unspecified.
    std::size_t read(std::span<const ReadBlock> requests);

    // Stores verified blocks in one transaction; records `tag` on their segments; then enforces
    // the quota. A block already cached with the same hash keeps its row and gets its bytes
    // rewritten if the stored ones differ; with another hash the segment is replaced. Returns
    // false (and *error) if nothing was stored.
    bool put(std::span<const PutBlock> blocks, Tag tag, std::string* error = nullptr);

    // The segment with this ID and which of its blocks are cached (nullopt: none). Index only, no
    // data file is read: a block listed here may still fail verification in read_block().
    std::optional<SegmentEntry> segment(Bytes id);
    // Every cached segment (for listings), in no particular order.
    std::vector<SegmentEntry> segments();

    // The bytes of one cached block, found by segment ID and index and verified against the hash
    // recorded with it (as read() does: a block whose stored bytes are wrong is dropped and
    // reported missing). This is what a peer serves ([MS-PCCRR] MSG_BLK).
    std::optional<std::vector<std::uint8_t>> read_block(Bytes segment, std::uint32_t index);

    // Marks a segment used now (LRU order). Cheap to call often: no I/O; the use is recorded (at
    // most once a minute per segment and process) with the next put, limit check or close.
    void touch(Bytes segment);

    // Removes every segment that data was added to under `tag`. Returns segments removed.
    std::uint64_t flush_tag(Tag tag);

    // Evicts segments older than max_age and, least recently used first, until the total fits
    // the quota. Returns segments removed.
    std::uint64_t enforce_limits();

    // A number that changes whenever any connection of any process commits a change.
    std::uint64_t version();

    Stats stats();
    const Config& config() const;

    struct Impl;
private:
    explicit Store(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Default cache configuration of this machine:
//   directory: env PEERDIST_CACHE_DIR, else (Windows) registry HKLM\SOFTWARE\OpenPeerDist\Cache
//              value Directory, else %ProgramData%\OpenPeerDist\Cache (Linux: $XDG_CACHE_HOME or
//              ~/.cache, /openpeerdist);
//   quota:     env PEERDIST_CACHE_QUOTA (bytes, or N%), else registry QuotaBytes (QWORD) or
//              policy HKLM\SOFTWARE\Policies\Microsoft\PeerDist\CacheMgr\Republication
//              SizePercent, else 5 %;
//   max age:   env PEERDIST_CACHE_MAX_AGE (seconds), else registry MaxAgeSeconds or policy
//              ...\PeerDist\Retrieval SegmentTTL (days), else 28 days.
Config default_config();

#ifdef _WIN32
// The machine's common application data folder (what %ProgramData% names in a user's session):
// HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList ProgramData (expanded), else
// the ProgramData variable, else the temp directory. The registry comes first because a service's
// environment may differ from a user's (Wine's services.exe sets ProgramData to C:\users\Public),
// and every process of the machine must find the same cache and server secret.
std::filesystem::path program_data_directory();
#endif

} // namespace pd::cache
