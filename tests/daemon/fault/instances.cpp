#include "instances.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <stdexcept>

namespace sluice::testing::fault {

using namespace std::chrono_literals;

Instances::Instances(std::string config_path, std::size_t slots)
    : config_path_(std::move(config_path)), slots_(slots) {}

DaemonProcess& Instances::start(std::size_t slot) {
    auto& current = slots_.at(slot);
    if (current && current->running())
        throw std::logic_error("instance slot " + std::to_string(slot) + " is still running");
    if (current)
        retired_.push_back(std::move(current));
    current = std::make_unique<DaemonProcess>(DaemonProcess::start(config_path_));
    return *current;
}

void Instances::start_all() {
    for (std::size_t i = 0; i < slots_.size(); ++i)
        start(i);
}

bool Instances::running(std::size_t slot) {
    auto& p = slots_.at(slot);
    return p && p->running();
}

std::optional<std::size_t> Instances::slot_of(int pid) {
    for (std::size_t i = 0; i < slots_.size(); ++i) {
        if (running(i) && slots_[i]->pid() == pid)
            return i;
    }
    return std::nullopt;
}

std::set<int> Instances::live_pids() {
    std::set<int> out;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
        if (running(i))
            out.insert(slots_[i]->pid());
    }
    return out;
}

std::vector<std::size_t> Instances::live_slots() {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
        if (running(i))
            out.push_back(i);
    }
    return out;
}

bool Instances::kill9(std::size_t slot) {
    auto& p = *slots_.at(slot);
    p.kill(SIGKILL);
    auto exit = p.wait_exit(10s);
    if (!exit || exit->exited || exit->signal != SIGKILL) {
        ADD_FAILURE() << "instance " << slot << " (pid " << p.pid() << ") did not die by SIGKILL: "
                      << (exit ? exit->describe() : "still running after 10 s");
        return false;
    }
    return true;
}

void Instances::terminate_all() {
    for (std::size_t i = 0; i < slots_.size(); ++i) {
        if (running(i))
            slots_[i]->terminate(5s);
    }
}

std::string Instances::describe(std::size_t log_lines) {
    std::string out;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
        if (!slots_[i]) {
            out += "instance " + std::to_string(i) + ": never started\n";
            continue;
        }
        bool alive = running(i);
        out += "instance " + std::to_string(i) + " (pid " + std::to_string(slots_[i]->pid()) +
               (alive ? ", running" : ", ended") + ")\n" + slots_[i]->output_tail(log_lines) + "\n";
    }
    return out;
}

}  // namespace sluice::testing::fault
