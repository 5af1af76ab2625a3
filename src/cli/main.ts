/**
 * The `umbra` command line: parses the subcommand and hands off. Each subcommand lives in its
 * own module and has its own --help.
 */
import { runRouter } from './router.ts'
import { runStatus } from './status.ts'
import { runTestnet } from './testnet.ts'
import { runGet, runPublish, runSearch } from './fs.ts'
import { runChat } from './chat.ts'

const HELP = `umbra — an anonymous, onion-routed overlay network

Usage: umbra <command> [options]

Commands:
  testnet              run a local network of routers on 127.0.0.1 (what \`npm start\` runs)
  router               run one router (settings: docs/config.md)
  router export-info   write a seed file with the running router's RouterInfo
  status               show a running router's state
  publish PATH         publish a file or directory anonymously; prints its URI
  search WORD...       find published files by keyword
  get URI -o PATH      download a published file, verified and resumable
  chat [VERB]          anonymous chat: rooms and direct messages (interactive without a verb)
  help [COMMAND]       show this text, or a command's

Run \`umbra <command> --help\` for a command's options.
`

/** Runs the CLI with `argv` (without node and script). Returns the exit code. */
export async function main (argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv
  switch (cmd) {
    case 'testnet': return await runTestnet(rest)
    case 'router': return await runRouter(rest)
    case 'status': return await runStatus(rest)
    case 'publish': return await runPublish(rest)
    case 'search': return await runSearch(rest)
    case 'get': return await runGet(rest)
    case 'chat': return await runChat(rest)
    case 'help':
      if (rest[0] !== undefined && rest[0] !== 'help' && !rest[0].startsWith('-')) return await main([rest[0], '--help'])
      process.stdout.write(HELP)
      return 0
    case undefined: case '--help': case '-h':
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
