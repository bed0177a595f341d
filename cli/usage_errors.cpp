#include "cli/usage_errors.h"

#include "engine/catalog/names.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <sstream>

namespace sendense::cli {
namespace {

std::vector<std::string> SubcommandNames(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands({})) {
    names.push_back(sub->get_name());
  }
  return names;
}

// Long option names of `app` ("--json").
std::vector<std::string> OptionNames(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::Option* o : app.get_options()) {
    for (const auto& l : o->get_lnames()) {
      names.push_back("--" + l);
    }
  }
  return names;
}

// The deepest subcommand that was parsed.
const CLI::App& Deepest(const CLI::App& app) {
  for (const CLI::App* sub : app.get_subcommands()) {
    return Deepest(*sub);
  }
  return app;
}

std::string CommandPath(const CLI::App& app) {
  std::string path;
  for (const CLI::App* a = &app; a != nullptr && a->get_parent() != nullptr;
       a = a->get_parent()) {
    path = a->get_name() + (path.empty() ? "" : " " + path);
  }
  return path;
}

std::string Lowered(std::string s) {
  if (!s.empty() && std::isupper(static_cast<unsigned char>(s[0])) &&
      (s.size() < 2 || !std::isupper(static_cast<unsigned char>(s[1])))) {
    s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  }
  return s;
}

std::string WithSuggestion(const std::string& sentence,
                           const std::optional<std::string>& near) {
  return near ? sentence + "; did you mean '" + *near + "'?" : sentence;
}

}  // namespace

std::optional<std::string> UnknownCommand(const CLI::App& app,
                                          int argc,
                                          const char* const* argv) {
  const CLI::App* current = &app;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-r" || arg == "--repo") {
      ++i;  // its value
      continue;
    }
    if (arg.empty() || arg[0] == '-') {
      if (arg == "--help" || arg == "-h" || arg == "--version") {
        return std::nullopt;
      }
      continue;
    }
    const auto names = SubcommandNames(*current);
    if (std::find(names.begin(), names.end(), arg) == names.end()) {
      const std::string where =
          current == &app ? "" : " of '" + CommandPath(*current) + "'";
      return WithSuggestion("unknown command '" + arg + "'" + where,
                            NearestName(arg, names));
    }
    current = current->get_subcommand(arg);
    if (current->get_subcommands({}).empty()) {
      return std::nullopt;  // the rest are its own arguments
    }
  }
  return std::nullopt;
}

std::string DescribeParseError(const CLI::App& app, const CLI::ParseError& e) {
  const CLI::App& cmd = Deepest(app);
  const std::string help =
      " (see 'sendense " +
      (CommandPath(cmd).empty() ? "" : CommandPath(cmd) + " ") + "--help')";
  const std::string what = e.what();
  if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
    // "The following argument(s) ... expected: a b" (listed last first).
    std::istringstream words(what.substr(what.rfind(": ") + 2));
    std::vector<std::string> extras;
    for (std::string w; words >> w;) {
      extras.insert(extras.begin(), w);
    }
    for (const auto& x : extras) {
      if (x.size() > 1 && x[0] == '-') {
        const std::string option = x.substr(0, x.find('='));
        return WithSuggestion(
                   "unknown option '" + option + "'" +
                       (&cmd == &app ? "" : " for '" + CommandPath(cmd) + "'"),
                   NearestName(option, OptionNames(cmd))) +
               help;
      }
    }
    return "unexpected argument '" + (extras.empty() ? what : extras[0]) + "'" +
           help;
  }
  if (dynamic_cast<const CLI::ValidationError*>(&e) != nullptr ||
      dynamic_cast<const CLI::ConversionError*>(&e) != nullptr) {
    // "--timeout: must be between ..." -> "--timeout must be between ..."
    std::string s = what;
    if (const auto colon = s.find(": ");
        colon != std::string::npos && s.rfind("--", 0) == 0) {
      s = s.substr(0, colon) + " " + s.substr(colon + 2);
    }
    return Lowered(s);
  }
  if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr &&
      what.find("subcommand") != std::string::npos) {
    return "no command given" + help;
  }
  return Lowered(what) + help;
}

CLI::Validator Between(double lo, double hi, const std::string& unit) {
  std::ostringstream range;
  range << lo << " and " << hi << (unit.empty() ? "" : " " + unit);
  const std::string words = range.str();
  return CLI::Validator(
      [lo, hi, words](std::string& value) -> std::string {
        try {
          size_t used = 0;
          const double v = std::stod(value, &used);
          if (used == value.size() && v >= lo && v <= hi) {
            return "";
          }
        } catch (const std::exception&) {
        }
        return "must be between " + words;
      },
      "BETWEEN " + words);
}

CLI::Validator ExistingFolder() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        std::error_code ec;
        return std::filesystem::is_directory(value, ec)
                   ? ""
                   : "must be an existing folder ('" + value + "' is not one)";
      },
      "FOLDER");
}

}  // namespace sendense::cli
