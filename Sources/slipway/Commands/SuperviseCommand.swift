import ArgumentParser
import Builder

/// `slipway supervise [--uid U --gid G] -- <command>…`: the parent of every
/// local build command (see ``BuildSupervisor``). Started by the local
/// runner, never by hand, so it is hidden from `--help`.
struct SuperviseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: BuildSupervisor.subcommand,
        abstract: "Run a build command so that nothing it starts outlives it (used by the local runner).",
        shouldDisplay: false
    )

    @Option(name: .long, help: "The user id the command runs as.")
    var uid: UInt32?

    @Option(name: .long, help: "The group id the command runs as.")
    var gid: UInt32?

    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.")
    var command: [String] = []

    func validate() throws {
        if (uid == nil) != (gid == nil) { throw ValidationError("give both --uid and --gid, or neither") }
        if command.isEmpty { throw ValidationError("give the command to run after --") }
    }

    func run() throws {
        let user = uid.flatMap { uid in gid.map { BuilderConfiguration.BuildUser(uid: uid, gid: $0) } }
        BuildSupervisor.run(command: command, user: user)
    }
}
