// The LISTEN/NOTIFY channels of sluice, defined once: the migrations write them into the
// triggers they create, the feed and the publisher LISTEN on them, the outbox commands NOTIFY.
// A notification is only ever a wake-up; the data stays in the tables.
#pragma once

#include <string_view>

namespace sluice::store {

// The events trigger's channel unless database.notify_channel names another one. (config/
// repeats it as its default: it sits beside store/ and cannot include it.)
inline constexpr std::string_view default_events_channel = "sluice_events";
// The outbox trigger and `sluice outbox retry|enable` notify here; every publisher listens.
inline constexpr std::string_view outbox_channel = "sluice_outbox";
// The payload on outbox_channel that says a webhook_state row changed (`sluice outbox enable`):
// workers re-read their state. Any other payload (the trigger sends '') means rows may be due.
inline constexpr std::string_view outbox_state_payload = "webhook_state";

}  // namespace sluice::store
