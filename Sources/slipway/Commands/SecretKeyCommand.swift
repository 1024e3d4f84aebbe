import ArgumentParser
import Model

/// `slipway secret-key`: prints a new key for `SLIPWAY_SECRET_KEY`.
struct SecretKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secret-key",
        abstract: "Print a new random key for SLIPWAY_SECRET_KEY (32 bytes, base64).",
        discussion: """
            SLIPWAY_SECRET_KEY seals secrets at rest (secret build variables, webhook secrets, notify-URL \
            credentials, repository access tokens) and signs the edge's sign-in cookies. Every node of a fleet \
            needs the same value. To rotate, list the new key after the old one on every node \
            (OLD,NEW), then first (NEW,OLD), run 'slipway catalog reseal', and drop the old key.
            """
    )

    func run() {
        print(SecretKeyring.generateKeyText())
    }
}
