/**
 * The `umbra` command line: parses the subcommand and hands off. Each subcommand lives in its
 * own module and has its own --help.
 */
import { runRouter } from './router.ts'
import { runTestnet } from './testnet.ts'

const HELP = `umbra — an anonymous, onion-routed overlay network

Usage: umbra <command> [options]

Commands:
  testnet    run a local network of routers on 127.0.0.1 (what \`npm start\` runs)
  router     run one router
  help       show this text

Run \`umbra <command> --help\` for a command's options.
`

/** Runs the CLI with `argv` (without node and script). Returns the exit code. */
export async function main (argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv
  switch (cmd) {
    case 'testnet': return await runTestnet(rest)
    case 'router': return await runRouter(rest)
    case undefined: case 'help': case '--help': case '-h':
      process.stdout.write(HELP)
      return 0
    default:
      process.stderr.write(`umbra: unknown command '${cmd}'\n\n${HELP}`)
      return 2
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code }, (err: unknown) => {
  process.stderr.write(`umbra: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}\n`)
  process.exitCode = 1
})
