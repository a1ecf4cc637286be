// pd::p2p status codes: the HRESULT values of p2p.h / p2p_errors.h / winerror.h as portable
// constants, so the engine (native and mingw) returns exactly what the ABI hands to callers.
// Names are lowercase so that no Windows macro (PEER_E_*, E_*) can collide with them:
// PEER_E_INVALID_SEARCH -> hr::invalid_search, PEER_S_NO_EVENT_DATA -> hr::s_no_event_data.
#pragma once
#include <cstdint>

namespace pd::p2p {

using Hr = std::int32_t;
inline constexpr bool failed(Hr h) { return h < 0; }
inline constexpr bool succeeded(Hr h) { return h >= 0; }

namespace hr {
inline constexpr Hr ok = static_cast<Hr>(0x00000000u);  // S_OK
inline constexpr Hr s_false = static_cast<Hr>(0x00000001u);  // S_FALSE
inline constexpr Hr invalid_arg = static_cast<Hr>(0x80070057u);  // E_INVALIDARG
inline constexpr Hr out_of_memory = static_cast<Hr>(0x8007000Eu);  // E_OUTOFMEMORY
inline constexpr Hr pointer = static_cast<Hr>(0x80004003u);  // E_POINTER
inline constexpr Hr fail = static_cast<Hr>(0x80004005u);  // E_FAIL
inline constexpr Hr unexpected = static_cast<Hr>(0x8000FFFFu);  // E_UNEXPECTED
inline constexpr Hr not_impl = static_cast<Hr>(0x80004001u);  // E_NOTIMPL
inline constexpr Hr access_denied = static_cast<Hr>(0x80070005u);  // E_ACCESSDENIED
inline constexpr Hr invalid_data = static_cast<Hr>(0x8007000Du);  // HRESULT_FROM_WIN32(ERROR_INVALID_DATA)
inline constexpr Hr not_found = static_cast<Hr>(0x80070490u);  // PEER_E_NOT_FOUND = HRESULT_FROM_WIN32(ERROR_NOT_FOUND)
inline constexpr Hr already_exists = static_cast<Hr>(0x800700B7u);  // PEER_E_ALREADY_EXISTS = HRESULT_FROM_WIN32(ERROR_ALREADY_EXISTS)
inline constexpr Hr disk_full = static_cast<Hr>(0x80070070u);  // PEER_E_DISK_FULL
inline constexpr Hr invalid_identity = static_cast<Hr>(0x80072CEFu);  // PEER_E_INVALID_IDENTITY
inline constexpr Hr cloud_not_found = static_cast<Hr>(0x80072CEDu);  // PEER_E_CLOUD_NOT_FOUND
inline constexpr Hr path_not_found = static_cast<Hr>(0x80070003u);  // HRESULT_FROM_WIN32(ERROR_PATH_NOT_FOUND)
inline constexpr Hr file_not_found = static_cast<Hr>(0x80070002u);  // HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND)
inline constexpr Hr insufficient_buffer = static_cast<Hr>(0x8007007Au);  // HRESULT_FROM_WIN32(ERROR_INSUFFICIENT_BUFFER)

// FACILITY_P2P (99)
inline constexpr Hr ipv6_not_installed = static_cast<Hr>(0x80630001u);  // PEER_E_IPV6_NOT_INSTALLED
inline constexpr Hr not_initialized = static_cast<Hr>(0x80630002u);  // PEER_E_NOT_INITIALIZED
inline constexpr Hr cannot_start_service = static_cast<Hr>(0x80630003u);  // PEER_E_CANNOT_START_SERVICE
inline constexpr Hr not_licensed = static_cast<Hr>(0x80630004u);  // PEER_E_NOT_LICENSED
inline constexpr Hr invalid_graph = static_cast<Hr>(0x80630010u);  // PEER_E_INVALID_GRAPH
inline constexpr Hr dbname_changed = static_cast<Hr>(0x80630011u);  // PEER_E_DBNAME_CHANGED
inline constexpr Hr duplicate_graph = static_cast<Hr>(0x80630012u);  // PEER_E_DUPLICATE_GRAPH
inline constexpr Hr graph_not_ready = static_cast<Hr>(0x80630013u);  // PEER_E_GRAPH_NOT_READY
inline constexpr Hr graph_shutting_down = static_cast<Hr>(0x80630014u);  // PEER_E_GRAPH_SHUTTING_DOWN
inline constexpr Hr graph_in_use = static_cast<Hr>(0x80630015u);  // PEER_E_GRAPH_IN_USE
inline constexpr Hr invalid_database = static_cast<Hr>(0x80630016u);  // PEER_E_INVALID_DATABASE
inline constexpr Hr too_many_attributes = static_cast<Hr>(0x80630017u);  // PEER_E_TOO_MANY_ATTRIBUTES
inline constexpr Hr connection_not_found = static_cast<Hr>(0x80630103u);  // PEER_E_CONNECTION_NOT_FOUND
inline constexpr Hr connect_self = static_cast<Hr>(0x80630106u);  // PEER_E_CONNECT_SELF
inline constexpr Hr already_listening = static_cast<Hr>(0x80630107u);  // PEER_E_ALREADY_LISTENING
inline constexpr Hr node_not_found = static_cast<Hr>(0x80630108u);  // PEER_E_NODE_NOT_FOUND
inline constexpr Hr connection_failed = static_cast<Hr>(0x80630109u);  // PEER_E_CONNECTION_FAILED
inline constexpr Hr connection_not_authenticated = static_cast<Hr>(0x8063010Au);  // PEER_E_CONNECTION_NOT_AUTHENTICATED
inline constexpr Hr connection_refused = static_cast<Hr>(0x8063010Bu);  // PEER_E_CONNECTION_REFUSED
inline constexpr Hr classifier_too_long = static_cast<Hr>(0x80630201u);  // PEER_E_CLASSIFIER_TOO_LONG
inline constexpr Hr too_many_identities = static_cast<Hr>(0x80630202u);  // PEER_E_TOO_MANY_IDENTITIES
inline constexpr Hr no_key_access = static_cast<Hr>(0x80630203u);  // PEER_E_NO_KEY_ACCESS
inline constexpr Hr groups_exist = static_cast<Hr>(0x80630204u);  // PEER_E_GROUPS_EXIST
inline constexpr Hr record_not_found = static_cast<Hr>(0x80630301u);  // PEER_E_RECORD_NOT_FOUND
inline constexpr Hr database_accessdenied = static_cast<Hr>(0x80630302u);  // PEER_E_DATABASE_ACCESSDENIED
inline constexpr Hr dbinitialization_failed = static_cast<Hr>(0x80630303u);  // PEER_E_DBINITIALIZATION_FAILED
inline constexpr Hr max_record_size_exceeded = static_cast<Hr>(0x80630304u);  // PEER_E_MAX_RECORD_SIZE_EXCEEDED
inline constexpr Hr database_already_present = static_cast<Hr>(0x80630305u);  // PEER_E_DATABASE_ALREADY_PRESENT
inline constexpr Hr database_not_present = static_cast<Hr>(0x80630306u);  // PEER_E_DATABASE_NOT_PRESENT
inline constexpr Hr identity_not_found = static_cast<Hr>(0x80630401u);  // PEER_E_IDENTITY_NOT_FOUND
inline constexpr Hr event_handle_not_found = static_cast<Hr>(0x80630501u);  // PEER_E_EVENT_HANDLE_NOT_FOUND
inline constexpr Hr invalid_search = static_cast<Hr>(0x80630601u);  // PEER_E_INVALID_SEARCH
inline constexpr Hr invalid_attributes = static_cast<Hr>(0x80630602u);  // PEER_E_INVALID_ATTRIBUTES
inline constexpr Hr invitation_not_trusted = static_cast<Hr>(0x80630701u);  // PEER_E_INVITATION_NOT_TRUSTED
inline constexpr Hr chain_too_long = static_cast<Hr>(0x80630703u);  // PEER_E_CHAIN_TOO_LONG
inline constexpr Hr invalid_time_period = static_cast<Hr>(0x80630705u);  // PEER_E_INVALID_TIME_PERIOD
inline constexpr Hr circular_chain_detected = static_cast<Hr>(0x80630706u);  // PEER_E_CIRCULAR_CHAIN_DETECTED
inline constexpr Hr cert_store_corrupted = static_cast<Hr>(0x80630801u);  // PEER_E_CERT_STORE_CORRUPTED
inline constexpr Hr no_cloud = static_cast<Hr>(0x80631001u);  // PEER_E_NO_CLOUD
inline constexpr Hr cloud_name_ambiguous = static_cast<Hr>(0x80631005u);  // PEER_E_CLOUD_NAME_AMBIGUOUS
inline constexpr Hr invalid_record = static_cast<Hr>(0x80632010u);  // PEER_E_INVALID_RECORD
inline constexpr Hr not_authorized = static_cast<Hr>(0x80632020u);  // PEER_E_NOT_AUTHORIZED
inline constexpr Hr password_does_not_meet_policy = static_cast<Hr>(0x80632021u);  // PEER_E_PASSWORD_DOES_NOT_MEET_POLICY
inline constexpr Hr deferred_validation = static_cast<Hr>(0x80632030u);  // PEER_E_DEFERRED_VALIDATION
inline constexpr Hr invalid_group_properties = static_cast<Hr>(0x80632040u);  // PEER_E_INVALID_GROUP_PROPERTIES
inline constexpr Hr invalid_peer_name = static_cast<Hr>(0x80632050u);  // PEER_E_INVALID_PEER_NAME
inline constexpr Hr invalid_classifier = static_cast<Hr>(0x80632060u);  // PEER_E_INVALID_CLASSIFIER
inline constexpr Hr invalid_friendly_name = static_cast<Hr>(0x80632070u);  // PEER_E_INVALID_FRIENDLY_NAME
inline constexpr Hr invalid_role_property = static_cast<Hr>(0x80632071u);  // PEER_E_INVALID_ROLE_PROPERTY
inline constexpr Hr invalid_classifier_property = static_cast<Hr>(0x80632072u);  // PEER_E_INVALID_CLASSIFIER_PROPERTY
inline constexpr Hr invalid_record_expiration = static_cast<Hr>(0x80632080u);  // PEER_E_INVALID_RECORD_EXPIRATION
inline constexpr Hr invalid_credential_info = static_cast<Hr>(0x80632081u);  // PEER_E_INVALID_CREDENTIAL_INFO
inline constexpr Hr invalid_credential = static_cast<Hr>(0x80632082u);  // PEER_E_INVALID_CREDENTIAL
inline constexpr Hr invalid_record_size = static_cast<Hr>(0x80632083u);  // PEER_E_INVALID_RECORD_SIZE
inline constexpr Hr unsupported_version = static_cast<Hr>(0x80632090u);  // PEER_E_UNSUPPORTED_VERSION
inline constexpr Hr group_not_ready = static_cast<Hr>(0x80632091u);  // PEER_E_GROUP_NOT_READY
inline constexpr Hr group_in_use = static_cast<Hr>(0x80632092u);  // PEER_E_GROUP_IN_USE
inline constexpr Hr invalid_group = static_cast<Hr>(0x80632093u);  // PEER_E_INVALID_GROUP
inline constexpr Hr no_members_found = static_cast<Hr>(0x80632094u);  // PEER_E_NO_MEMBERS_FOUND
inline constexpr Hr no_member_connections = static_cast<Hr>(0x80632095u);  // PEER_E_NO_MEMBER_CONNECTIONS
inline constexpr Hr unable_to_listen = static_cast<Hr>(0x80632096u);  // PEER_E_UNABLE_TO_LISTEN
inline constexpr Hr identity_deleted = static_cast<Hr>(0x806320A0u);  // PEER_E_IDENTITY_DELETED
inline constexpr Hr service_not_available = static_cast<Hr>(0x806320A1u);  // PEER_E_SERVICE_NOT_AVAILABLE
inline constexpr Hr cannot_convert_peer_name = static_cast<Hr>(0x80634001u);  // PEER_E_CANNOT_CONVERT_PEER_NAME
inline constexpr Hr invalid_peer_host_name = static_cast<Hr>(0x80634002u);  // PEER_E_INVALID_PEER_HOST_NAME
inline constexpr Hr no_more = static_cast<Hr>(0x80634003u);  // PEER_E_NO_MORE
inline constexpr Hr pnrp_duplicate_peer_name = static_cast<Hr>(0x80634005u);  // PEER_E_PNRP_DUPLICATE_PEER_NAME
inline constexpr Hr contact_not_found = static_cast<Hr>(0x80636001u);  // PEER_E_CONTACT_NOT_FOUND
inline constexpr Hr invite_cancelled = static_cast<Hr>(0x80637000u);  // PEER_E_INVITE_CANCELLED
inline constexpr Hr invite_response_not_available = static_cast<Hr>(0x80637001u);  // PEER_E_INVITE_RESPONSE_NOT_AVAILABLE
inline constexpr Hr not_signed_in = static_cast<Hr>(0x80637003u);  // PEER_E_NOT_SIGNED_IN
inline constexpr Hr privacy_declined = static_cast<Hr>(0x80637004u);  // PEER_E_PRIVACY_DECLINED
inline constexpr Hr timeout = static_cast<Hr>(0x80637005u);  // PEER_E_TIMEOUT
inline constexpr Hr invalid_address = static_cast<Hr>(0x80637007u);  // PEER_E_INVALID_ADDRESS
inline constexpr Hr fw_exception_disabled = static_cast<Hr>(0x80637008u);  // PEER_E_FW_EXCEPTION_DISABLED
inline constexpr Hr fw_blocked_by_policy = static_cast<Hr>(0x80637009u);  // PEER_E_FW_BLOCKED_BY_POLICY
inline constexpr Hr fw_blocked_by_shields_up = static_cast<Hr>(0x8063700Au);  // PEER_E_FW_BLOCKED_BY_SHIELDS_UP
inline constexpr Hr fw_declined = static_cast<Hr>(0x8063700Bu);  // PEER_E_FW_DECLINED
inline constexpr Hr s_graph_data_created = static_cast<Hr>(0x00630001u);  // PEER_S_GRAPH_DATA_CREATED
inline constexpr Hr s_no_event_data = static_cast<Hr>(0x00630002u);  // PEER_S_NO_EVENT_DATA
inline constexpr Hr s_no_connectivity = static_cast<Hr>(0x00630005u);  // PEER_S_NO_CONNECTIVITY
inline constexpr Hr s_already_a_member = static_cast<Hr>(0x00630006u);  // PEER_S_ALREADY_A_MEMBER
inline constexpr Hr s_already_connected = static_cast<Hr>(0x00632000u);  // PEER_S_ALREADY_CONNECTED
inline constexpr Hr s_subscription_exists = static_cast<Hr>(0x00636000u);  // PEER_S_SUBSCRIPTION_EXISTS
}  // namespace hr
}  // namespace pd::p2p
