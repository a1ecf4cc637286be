// The process's group name service (name_service.hpp).
#include "pd/p2pnet/name_service.hpp"

#include <mutex>

namespace pd::p2pnet {
namespace {
std::mutex g_mutex;
std::shared_ptr<GroupNameService> g_service;
}  // namespace

void set_group_name_service(std::shared_ptr<GroupNameService> service)
{
    std::lock_guard lock(g_mutex);
    g_service = std::move(service);
}

std::shared_ptr<GroupNameService> group_name_service()
{
    std::lock_guard lock(g_mutex);
    return g_service;
}

std::u16string participant_name(const std::u16string& group_peer_name)
{
    auto dot = group_peer_name.find(u'.');
    if (dot == std::u16string::npos || dot == 0) return {};
    return group_peer_name.substr(0, dot) + u".participant";
}

std::u16string classifier_of(const std::u16string& peer_name)
{
    auto dot = peer_name.find(u'.');
    if (dot == std::u16string::npos) return {};
    return peer_name.substr(dot + 1);
}

}  // namespace pd::p2pnet
