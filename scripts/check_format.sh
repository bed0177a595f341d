#!/usr/bin/env bash
# Fails, naming the files, when a C++ file differs from .clang-format or
# the dashboard's JavaScript breaks a rule of web/ui/.eslintrc.json.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.h' 2>/dev/null ||
  find cli engine fs web tests -name '*.cpp' -o -name '*.h')
bad=()
for f in "${files[@]}"; do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    bad+=("$f")
  fi
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "not formatted (run clang-format -i): ${bad[*]}" >&2
  exit 1
fi
echo "${#files[@]} files formatted"
# Debian's eslint keeps its modules in /usr/share/nodejs, where a node not
# built by Debian does not look by itself. The unix formatter needs no
# module of its own (stylish needs node-chalk, which Debian may not pull).
NODE_PATH=/usr/share/nodejs eslint --no-eslintrc -c web/ui/.eslintrc.json \
  --format unix --max-warnings 0 web/ui/js
echo "dashboard JavaScript lints clean"
