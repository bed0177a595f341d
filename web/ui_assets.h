#pragma once

// The dashboard's files (web/ui), compiled into the binary by
// web/embed_ui.cmake.

#include <span>
#include <string_view>

namespace sendense::web {

struct UiAsset {
  std::string_view path;  // "/ui/js/main.js"
  std::string_view body;
};

std::span<const UiAsset> UiAssets();

}  // namespace sendense::web
