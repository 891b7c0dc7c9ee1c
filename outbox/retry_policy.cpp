#include "outbox/retry_policy.hpp"

#include <algorithm>
#include <array>
#include <cmath>

namespace sluice::outbox {
namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

constexpr milliseconds min_retry_after = 1s;
constexpr milliseconds max_retry_after = 1h;

bool all_digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<int> number(std::string_view s) {
    if (!all_digits(s) || s.size() > 9)
        return std::nullopt;
    int v = 0;
    for (char c : s)
        v = v * 10 + (c - '0');
    return v;
}

std::optional<unsigned> month_number(std::string_view name) {
    static constexpr std::array<std::string_view, 12> months = {
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (unsigned i = 0; i < months.size(); ++i) {
        if (months[i] == name)
            return i + 1;
    }
    return std::nullopt;
}

std::optional<std::chrono::sys_seconds> make_time(int year, std::string_view month, int day,
                                                  std::string_view hms) {
    auto m = month_number(month);
    if (!m || hms.size() != 8 || hms[2] != ':' || hms[5] != ':')
        return std::nullopt;
    auto h = number(hms.substr(0, 2));
    auto min = number(hms.substr(3, 2));
    auto s = number(hms.substr(6, 2));
    if (!h || !min || !s || *h > 23 || *min > 59 || *s > 60)
        return std::nullopt;
    std::chrono::year_month_day ymd{std::chrono::year(year), std::chrono::month(*m),
                                    std::chrono::day(static_cast<unsigned>(day))};
    if (!ymd.ok())
        return std::nullopt;
    return std::chrono::sys_days(ymd) + std::chrono::hours(*h) + std::chrono::minutes(*min) +
           std::chrono::seconds(*s);
}

// The three HTTP-date forms of RFC 9110 section 5.6.7.
std::optional<std::chrono::sys_seconds> parse_http_date(std::string_view v) {
    auto comma = v.find(',');
    if (comma != std::string_view::npos) {
        auto rest = v.substr(comma + 1);
        // IMF-fixdate: " 21 Oct 2015 07:28:00 GMT"
        if (rest.size() == 25 && rest[0] == ' ' && rest[3] == ' ' && rest[7] == ' ' &&
            rest[12] == ' ' && rest.substr(21) == " GMT") {
            auto day = number(rest.substr(1, 2));
            auto year = number(rest.substr(8, 4));
            if (!day || !year)
                return std::nullopt;
            return make_time(*year, rest.substr(4, 3), *day, rest.substr(13, 8));
        }
        // RFC 850: " 21-Oct-15 07:28:00 GMT" (two-digit year: 00-69 = 20xx)
        if (rest.size() == 23 && rest[0] == ' ' && rest[3] == '-' && rest[7] == '-' &&
            rest[10] == ' ' && rest.substr(19) == " GMT") {
            auto day = number(rest.substr(1, 2));
            auto year = number(rest.substr(8, 2));
            if (!day || !year)
                return std::nullopt;
            return make_time(*year < 70 ? 2000 + *year : 1900 + *year, rest.substr(4, 3), *day,
                             rest.substr(11, 8));
        }
        return std::nullopt;
    }
    // asctime: "Wed Oct 21 07:28:00 2015" (day may be space-padded)
    if (v.size() == 24 && v[3] == ' ' && v[7] == ' ' && v[10] == ' ' && v[19] == ' ') {
        auto day_text = v.substr(8, 2);
        if (day_text[0] == ' ')
            day_text.remove_prefix(1);
        auto day = number(day_text);
        auto year = number(v.substr(20, 4));
        if (!day || !year)
            return std::nullopt;
        return make_time(*year, v.substr(4, 3), *day, v.substr(11, 8));
    }
    return std::nullopt;
}

}  // namespace

std::string_view outcome_label(const EndpointReply& outcome) {
    // Indices into outcome_labels: 2xx 3xx 4xx 5xx timeout network tls.
    constexpr std::size_t timeout = 4, network = 5, tls = 6;
    switch (outcome.error) {
        case ErrorKind::timeout:
            return outcome_labels[timeout];
        case ErrorKind::network:
            return outcome_labels[network];
        case ErrorKind::tls:
            return outcome_labels[tls];
        case ErrorKind::none:
            break;
    }
    const int s = outcome.status;
    if (s >= 200 && s < 600)
        return outcome_labels[static_cast<std::size_t>(s / 100 - 2)];
    return outcome_labels[network];
}

std::optional<milliseconds> parse_retry_after(std::string_view value,
                                              std::chrono::system_clock::time_point now) {
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
        value.remove_suffix(1);
    milliseconds delay;
    if (all_digits(value)) {
        // Anything beyond an hour is clamped anyway; avoid overflow on long digit strings.
        delay = value.size() > 6 ? max_retry_after
                                 : milliseconds(std::stoll(std::string(value)) * 1000);
    } else if (auto at = parse_http_date(value)) {
        delay = std::chrono::duration_cast<milliseconds>(*at - now);
    } else {
        return std::nullopt;
    }
    return std::clamp(delay, min_retry_after, max_retry_after);
}

milliseconds with_jitter(milliseconds base, double jitter, double u) {
    jitter = std::clamp(jitter, 0.0, 1.0);
    double factor = 1.0 + jitter * (2.0 * u - 1.0);
    auto ms = std::llround(static_cast<double>(base.count()) * factor);
    return milliseconds(std::max<long long>(ms, 0));
}

Decision decide(const EndpointReply& outcome, int attempts, const config::Retry& retry,
                std::chrono::system_clock::time_point now, const UniformRandom& random) {
    Decision d;
    d.label = outcome_label(outcome);
    if (outcome.error == ErrorKind::none) {
        if (outcome.status >= 200 && outcome.status < 300) {
            d.verdict = Verdict::delivered;
            return d;
        }
        if (outcome.status == 410) {
            d.verdict = Verdict::disable;
            return d;
        }
    }
    auto index = static_cast<std::size_t>(std::max(attempts, 1) - 1);
    if (index >= retry.schedule.size()) {
        d.verdict = Verdict::dead;
        return d;
    }
    d.verdict = Verdict::retry;
    if (outcome.error == ErrorKind::none && (outcome.status == 429 || outcome.status == 503) &&
        outcome.retry_after) {
        if (auto wait = parse_retry_after(*outcome.retry_after, now)) {
            d.delay = *wait;
            return d;
        }
    }
    d.delay = with_jitter(retry.schedule[index], retry.jitter, random());
    return d;
}

}  // namespace sluice::outbox
