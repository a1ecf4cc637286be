// pd::p2p::Group: events for changes that other processes make to the same group database.
//
// Every application of the user that opens a group shares its database ([doc] how to connect to
// a peer group: "all apps ... share one database"), so a record added by one process must reach
// the event registrations of the others. While a Group has listeners, a watcher thread polls the
// database version every 250 ms; when another process has committed, it compares the records
// with the last snapshot and reports RECORD_CHANGED (added / updated / deleted / expired) and
// PROPERTY_CHANGED; it also expires records on time (EXPIRED events without a call from the
// application). The thread starts with the first PeerGroupRegisterEvent, never in DllMain.
#include "group_state.hpp"

namespace pd::p2p {


void Group::start_watcher()
{
    std::lock_guard lock(mutex_);
    State& s = *state_;
    if (s.watching || s.deleted || !s.db)
        return;
    std::vector<Record> all;
    if (failed(s.db->list_records(nullptr, true, all)))
        return;
    s.seen.clear();
    for (auto& r : all)
        s.seen[r.id] = {r.version, r.flags, r.type};
    s.seen_version = s.db->data_version();
    s.watching = true;
    s.stop_watch = false;
    s.watcher = std::thread([this] { watch_loop(); });
}

void Group::stop_watcher()
{
    std::thread t;
    {
        std::lock_guard lock(mutex_);
        if (!state_ || !state_->watcher.joinable())
            return;
        state_->stop_watch = true;
        t = std::move(state_->watcher);
    }
    state_->watch_cv.notify_all();
    // The watcher never owns the group (event registrations hold it weakly), so this runs on
    // another thread; detach rather than deadlock should that ever change.
    if (t.get_id() == std::this_thread::get_id())
        t.detach();
    else
        t.join();
}

void Group::watch_loop()
{
    std::unique_lock lock(mutex_);
    State& s = *state_;
    while (!s.stop_watch) {
        s.watch_cv.wait_for(lock, std::chrono::milliseconds(250));
        if (s.stop_watch || s.deleted || !s.db)
            break;
        // Records that expire while the application waits for events: purged and reported
        // (EXPIRED) without waiting for its next call.
        lock.unlock();
        expire_now();
        lock.lock();
        if (s.stop_watch || s.deleted || !s.db)
            break;
        std::uint64_t v = s.db->data_version();
        if (v == s.seen_version)
            continue;
        std::vector<Record> all;
        if (failed(s.db->list_records(nullptr, true, all)))
            continue;
        s.seen_version = v;
        std::vector<GroupEvent> events;
        std::map<Guid, State::Seen> now;
        for (auto& r : all) {
            now[r.id] = {r.version, r.flags, r.type};
            auto old = s.seen.find(r.id);
            if (old != s.seen.end() && old->second.version == r.version)
                continue;
            if (r.type == kSecurityPropertiesType) {
                reload_properties();  // also makes a joined group ready (synchronised elsewhere)
                GroupEvent e;
                e.type = kEventPropertyChanged;
                events.push_back(e);
            } else if (r.type == kMembershipType) {
                // Another process (the group host) may have adopted a renewed GMC for this
                // member, or been issued the GMC of a password join: re-read it.
                reload_chain();
            } else if (!is_reserved_record_type(r.type)) {
                bool deleted = (r.flags & kFlagDeleted) != 0;
                if (old == s.seen.end()) {
                    if (!deleted)
                        events.push_back(record_event(kRecordAdded, r.id, r.type));
                } else if (deleted && !(old->second.flags & kFlagDeleted))
                    events.push_back(record_event(kRecordDeleted, r.id, r.type));
                else if (!deleted)
                    events.push_back(record_event(kRecordUpdated, r.id, r.type));
            }
        }
        // Records another process purged after they expired.
        for (auto& [id, old] : s.seen)
            if (!now.count(id) && !(old.flags & kFlagDeleted) && !is_reserved_record_type(old.type))
                events.push_back(record_event(kRecordExpired, id, old.type));
        s.seen = std::move(now);
        if (events.empty())
            continue;
        // Listeners are called without the group lock (they signal the caller's events).
        lock.unlock();
        for (auto& e : events)
            notify(e);
        lock.lock();
    }
}

}  // namespace pd::p2p
