// The one way an error crosses a co_await: a coroutine cannot co_await inside a catch block, so
// the handler stores `Failure::current()` and the code after the try block tests, inspects, logs
// or rethrows it:
//
//     Failure failed;
//     try {
//         co_await work();
//     } catch (const pg::ServerError&) {
//         failed = Failure::current();
//     }
//     if (failed)
//         co_await recover(*failed.as<pg::ServerError>());
//
// Catch the types you handle (never `...`): anything else keeps propagating.
// Error policy: nothing here throws except rethrow().
#pragma once

#include <exception>
#include <optional>
#include <string>

namespace sluice {

class Failure {
  public:
    Failure() = default;  // nothing failed

    // The exception being handled; call only inside a catch block.
    [[nodiscard]] static Failure current() noexcept { return Failure(std::current_exception()); }
    // The exception a co_spawn completion handler was given (null: nothing failed).
    explicit Failure(std::exception_ptr e) noexcept : e_(std::move(e)) {}

    [[nodiscard]] explicit operator bool() const noexcept { return static_cast<bool>(e_); }

    // Whether it is an E (or derived from one).
    template <class E>
    [[nodiscard]] bool is() const noexcept {
        if (!e_)
            return false;
        try {
            std::rethrow_exception(e_);
        } catch (const E&) {
            return true;
        } catch (...) {  // not an E: the caller asked, nothing is dropped
            return false;
        }
    }

    // A copy of it when it is an E (or derived from one: then sliced to E), else nullopt.
    template <class E>
    [[nodiscard]] std::optional<E> as() const {
        if (!e_)
            return std::nullopt;
        try {
            std::rethrow_exception(e_);
        } catch (const E& e) {
            return e;
        } catch (...) {  // not an E: the caller asked, nothing is dropped
            return std::nullopt;
        }
    }

    // Its what(); "unknown error" for an exception not derived from std::exception.
    [[nodiscard]] std::string what() const {
        if (!e_)
            return {};
        try {
            std::rethrow_exception(e_);
        } catch (const std::exception& e) {
            return e.what();
        } catch (...) {  // described, not dropped: the caller still holds the failure
            return "unknown error";
        }
    }

    [[noreturn]] void rethrow() const { std::rethrow_exception(e_); }

  private:
    std::exception_ptr e_;
};

}  // namespace sluice
