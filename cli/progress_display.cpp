#include "cli/progress_display.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <string>

#include "cli/commands.h"

namespace sendense::cli {
namespace {

std::atomic<bool>* g_cancel = nullptr;
extern "C" void OnSignal(int) {
  if (g_cancel != nullptr) {
    g_cancel->store(true);
  }
}

}  // namespace

CancelOnSignal::CancelOnSignal(std::atomic<bool>& cancel) {
  g_cancel = &cancel;
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
}

CancelOnSignal::~CancelOnSignal() {
  g_cancel = nullptr;
}

ProgressDisplay::ProgressDisplay(const JobProgress& progress)
    : progress_(progress),
      tty_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()) {
  ticker_ = std::make_unique<PeriodicThread>(
      tty_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(5000),
      [this] { Print(false); });
}

ProgressDisplay::~ProgressDisplay() {
  ticker_.reset();  // joined: Print runs on this thread from here
  if (tty_) {
    Print(true);
  }
}

void ProgressDisplay::Print(bool final) {
  const JobPhase phase = progress_.phase;
  if (phase == JobPhase::kIndexing && shown_ != JobPhase::kIndexing) {
    if (shown_ == JobPhase::kCopying && tty_) {
      PrintCopy(true);  // the copy's last state stays on its line
    }
    index_start_ = std::chrono::steady_clock::now();
    if (!tty_) {
      std::fprintf(stderr, "indexing guest files (starting an appliance)\n");
    }
  }
  if (phase != JobPhase::kQueued) {
    shown_ = phase;
  }
  if (shown_ == JobPhase::kIndexing) {
    PrintIndexing(final);
  } else if (shown_ == JobPhase::kCopying) {
    PrintCopy(final);
  }
}

void ProgressDisplay::PrintIndexing(bool final) {
  const double secs = std::chrono::duration<double>(
                          std::chrono::steady_clock::now() - index_start_)
                          .count();
  const uint64_t entries = progress_.entries_indexed;
  const std::string what = entries == 0 ? "starting an appliance"
                                        : std::to_string(entries) + " entries";
  if (tty_) {
    std::fprintf(stderr, "\rindexing guest files: %s, %.0f s\033[K%s",
                 what.c_str(), secs, final ? "\n" : "");
  } else {
    std::fprintf(stderr, "indexing: %s, %.0f s\n", what.c_str(), secs);
  }
  std::fflush(stderr);
}

void ProgressDisplay::PrintCopy(bool final) {
  const double done = static_cast<double>(progress_.bytes_done.load());
  const double total = static_cast<double>(progress_.bytes_total.load());
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
          .count();
  const double rate = secs > 0 ? done / secs : 0;
  const double fraction = total > 0 ? std::min(1.0, done / total) : 0;
  std::string eta = "?";
  if (rate > 0 && total >= done) {
    eta = std::to_string(static_cast<long>((total - done) / rate)) + " s";
  }
  const std::string numbers = HumanBytes(done) + " / " + HumanBytes(total) +
                              "  " + HumanBytes(rate) + "/s  ETA " + eta;
  if (tty_) {
    const int width = 30;
    const int filled = static_cast<int>(fraction * width);
    std::fprintf(
        stderr, "\r[%s%s] %3d%%  %s\033[K%s", std::string(filled, '#').c_str(),
        std::string(width - filled, '.').c_str(),
        static_cast<int>(fraction * 100), numbers.c_str(), final ? "\n" : "");
  } else {
    std::fprintf(stderr, "progress: %d%%  %s\n",
                 static_cast<int>(fraction * 100), numbers.c_str());
  }
  std::fflush(stderr);
}

}  // namespace sendense::cli
