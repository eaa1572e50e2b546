// An in-process message bus: topics, and consumer groups that each get every event of their
// topics once (Kafka's consumer groups, in miniature). Consumers wait through the virtual clock.
// SPDX-License-Identifier: MIT
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "services.hpp"
#include "sim.hpp"

namespace delivery {

/// The bus. `publish` never blocks; each group's consumers pop from the group's queue.
class message_bus final : public event_port {
 public:
  explicit message_bus(sim_clock clock) : clock_(std::move(clock)) {}

  /// The queue of consumer group `name`, subscribed to `topics` (created on first use).
  clock_queue<event>& group(const std::string& name, const std::vector<std::string>& topics) {
    std::lock_guard lock(mutex_);
    auto& g = groups_[name];
    if (!g.queue) g.queue = std::make_unique<clock_queue<event>>(clock_);
    for (const auto& t : topics) {
      if (std::find(g.topics.begin(), g.topics.end(), t) == g.topics.end()) g.topics.push_back(t);
    }
    return *g.queue;
  }

  void publish(const event& e) override {
    std::vector<clock_queue<event>*> targets;
    {
      std::lock_guard lock(mutex_);
      ++published_[e.topic];
      for (auto& [name, g] : groups_) {
        if (std::find(g.topics.begin(), g.topics.end(), e.topic) != g.topics.end()) {
          targets.push_back(g.queue.get());
        }
      }
    }
    for (auto* q : targets) (void)q->push(e);
  }

  /// Events published per topic.
  [[nodiscard]] std::map<std::string, std::uint64_t> published() const {
    std::lock_guard lock(mutex_);
    return published_;
  }

 private:
  struct group_state {
    std::vector<std::string> topics;
    std::unique_ptr<clock_queue<event>> queue;
  };

  sim_clock clock_;
  mutable std::mutex mutex_;
  std::map<std::string, group_state> groups_;
  std::map<std::string, std::uint64_t> published_;
};

}  // namespace delivery
