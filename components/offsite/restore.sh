# A volume restored from its off-site repository, on the stack's engine: montagu-offsite's
# restore (images/offsite/offsite.sh) in a throwaway container, the snapshot first unpacked in
# a staging volume of its own, then copied over the target as `rsync -a --delete` makes it.
#   restore.sh IMAGE CLIENT VOLUME SNAPSHOT TARGET allow-empty|refuse-empty check|restore
# The store and the secrets come from the environment (OFFSITE_REPOSITORY, AWS_DEFAULT_REGION,
# AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, RESTIC_PASSWORD), handed on by name, never on a
# command line.
set -euo pipefail
image="$1" client="$2" volume="$3" snapshot="$4" target="$5" empty="$6" mode="$7"
options=()
[ "$empty" != allow-empty ] || options+=(--allow-empty)
run=(docker run --rm --network host
  -e OFFSITE_REPOSITORY -e AWS_DEFAULT_REGION -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY -e RESTIC_PASSWORD
  --entrypoint montagu-offsite)
if [ "$mode" = check ]; then
  "${run[@]}" "$image" restore "$client" "$volume" "$snapshot" --check "${options[@]+"${options[@]}"}"
  exit 0
fi
# A staging volume left by a run killed half way is removed: it holds part of a snapshot.
staging="montagu-offsite-staging-$target"
docker volume rm --force "$staging" >/dev/null
docker volume create "$staging" >/dev/null
"${run[@]}" --volume "$staging:/staging" --volume "$target:/target" "$image" restore "$client" "$volume" "$snapshot" "${options[@]+"${options[@]}"}"
docker volume rm "$staging" >/dev/null
