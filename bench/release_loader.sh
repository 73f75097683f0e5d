# release_loader.sh: sourced by the loader benchmarks (load_formats.sh,
# load_rss.sh) to find the larder-load to time when LARDER_LOAD is not
# set: the newest one of a Release build without sanitizers, among
# ROOT/build*/loader and ROOT/build/*/loader (a Debug or ASan loader, or a
# stale build directory's, would measure the build, not the code).

# True if path/to/loader/larder-load comes from such a build.
release_build() { # path/to/loader/larder-load
    local cache
    cache="$(dirname "$(dirname "$1")")/CMakeCache.txt"
    [[ -r $cache ]] &&
        grep -q '^CMAKE_BUILD_TYPE:[A-Z]*=Release$' "$cache" &&
        ! grep -q '^LARDER_SANITIZE:[A-Z]*=.' "$cache"
}

# Prints the newest Release larder-load under root, or nothing.
release_loader() { # root
    local candidate
    while IFS= read -r candidate; do
        if release_build "$candidate"; then
            echo "$candidate"
            return 0
        fi
    done < <(ls -t "$1"/build*/loader/larder-load \
                   "$1"/build/*/loader/larder-load 2>/dev/null || true)
}
