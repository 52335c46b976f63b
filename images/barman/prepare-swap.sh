# shellcheck shell=bash
# montagu-prepare's swap step (prepare.sh, which sources this file), which stamp runs under DIR's lock.
# shellcheck disable=SC2154 # dir, work, staging, previous, STAMP: prepare.sh's

# Under DIR's lock: the served copy moves aside and the staging copy takes its place, by renames
# within the volume. The served stamp goes first and the new one comes last, so that DIR is
# never stamped while it holds part of a copy. Killed half way, it resumes: previous/.moved-out
# says whether the old copy is all aside yet.
swap() {
  local entry
  [ -f "$staging/$STAMP" ] || { say "no finished copy is staged in $dir"; return 1; }
  # DIR stamped means the last swap finished (its stamp comes last): whatever it left aside,
  # its clean-up cut short, is no copy's any more.
  if [ -e "$dir/$STAMP" ]; then rm -rf "$previous"; fi
  mkdir -p "$previous"
  shopt -s dotglob nullglob
  if [ ! -e "$previous/.moved-out" ]; then
    [ ! -e "$dir/$STAMP" ] || mv "$dir/$STAMP" "$previous/"
    for entry in "$dir"/*; do
      [ "$entry" = "$work" ] || mv "$entry" "$previous/"
    done
    touch "$previous/.moved-out"
  fi
  # A database's directory is its owner's alone: the volume's top takes the copy's owner and mode.
  chown --reference="$staging" "$dir"
  chmod --reference="$staging" "$dir"
  for entry in "$staging"/*; do
    [ "$entry" = "$staging/$STAMP" ] || mv "$entry" "$dir/"
  done
  mv "$staging/$STAMP" "$dir/$STAMP"
  rmdir "$staging"
  rm "$previous/.moved-out"
  say "the copy of $(cat "$dir/$STAMP") is in place in $dir"
}
