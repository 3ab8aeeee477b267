package importfmt

// dotenvxScript is cmd/capy/testdata/script/import_dotenvx.txtar with the
// files of a real dotenvx run filled in (writeDotenvxTestdata): the .env,
// its .env.keys, and the values `dotenvx get` printed, as `capy export
// --format json` prints them.
const dotenvxScript = `# capy import --from dotenvx: a .env that the real dotenvx (2.38.2, from
# npm) encrypted, 100 values with multi-line and quoted ones, read with its
# .env.keys; the values capy then gives are those dotenvx gives. A keys file
# of another project, or a tampered value, writes nothing.
# (Made by internal/importfmt's TestDotenvxAgainstRealDotenvx with
# CAPY_WRITE_DOTENVX_TESTDATA=1.)

login $WORK/home-alice alice@example.com
mkdir alice
cd alice
env CAPY_HOME=$WORK/home-alice
exec capy init --yes --new-org Acme

# a tampered value refuses the whole file: nothing written
! exists .env
cp $WORK/dotenvx/.env $WORK/tampered/.env
cp $WORK/dotenvx/.env.keys $WORK/tampered/.env.keys
replace-line $WORK/tampered/.env VAR_00 VAR_00=encrypted:BBlUTsp6NhBgUI0tbaoyLIh2DEzfobl7Mj9zTM4QP7Fd/H8Gp6kzWlaejKLMPuVkfkL8xpCd6Dh20T6XD3ajBbldl1l3tqTrPwrOiqYUnbGOUnkxHQzSgzwniBIaCN1L3G/nmyYB
exitcode 2 capy import --from dotenvx $WORK/tampered/.env
stderr 'VAR_00'
! stderr 'simple-value'
! exists .env

# no .env.keys beside the file: it says which to pass
exitcode 2 capy import --from dotenvx $WORK/nokeys/.env
stderr 'keys'
! exists .env

# the real thing: 100 values, exactly what dotenvx get printed
exec capy import --from dotenvx $WORK/dotenvx/.env
stderr 'imported 100 value'
! grep 'encrypted:' .env
exec capy export --format json
cmp stdout $WORK/want.json

-- nokeys/.env --
DOTENV_PUBLIC_KEY="03d30b91770701eb23aed5ab7b3c2f2f24acd81d005fa4a9814372e7454c9098f4"
A=encrypted:BBlUTsp6NhBgUI0tbaoyLIh2DEzfobl7Mj9zTM4QP7Fd/H8Gp6kzWlaejKLMPuVkfkL8xpCd6Dh20T6XD3ajBbldl1l3tqTrPwrOiqYUnbGOUnkxHQzSgzwniBIaCN1L3G/nmyYB
-- tampered/.keep --
-- dotenvx/.env --
%s
-- dotenvx/.env.keys --
%s
-- want.json --
%s`
