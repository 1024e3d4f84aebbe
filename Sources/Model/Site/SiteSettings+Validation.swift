import Foundation

extension SiteSettings {
    /// These settings with empty optional fields turned into nil, or the first
    /// problem found as a ``CatalogError`` that names the field and the fix.
    ///
    /// The catalog checks shape and size only. Whether a repository URL or a
    /// branch is safe to hand to git is the builder's check (`RepositorySource`),
    /// which runs again before every clone.
    package func validated() throws(CatalogError) -> SiteSettings {
        if let problem = SlugRules.problem(with: slug) { throw .slugInvalid(problem) }
        var result = self
        // Empty: a deployment without a repository, deployed by uploading folders.
        if !repoURL.isEmpty {
            try Self.checkSingleLine(repoURL, field: "repoUrl", maxBytes: Self.maxRepoURLLength)
        }
        if URLUserinfo.present(in: repoURL) {
            throw .invalidInput(
                "repoUrl carries a user name or a token ('https://…@host/…'); give the URL without it and put the token in repoToken (USER:TOKEN when the host wants a user name): it is sealed at rest and handed to git through a credential helper, never shown"
            )
        }
        try Self.checkSingleLine(branch, field: "branch", maxBytes: Self.maxBranchLength)
        result.rootDir = try Self.relativePath(rootDir, field: "rootDir")
        result.outputDir = try Self.relativePath(outputDir, field: "outputDir")
        result.installCommand = try Self.command(installCommand, field: "installCommand")
        result.buildCommand = try Self.command(buildCommand, field: "buildCommand")
        try Self.check(env: env)
        if let url = notifyURL { result.notifyURL = url.isEmpty ? nil : try NotifyURL(url).text }
        result.protection = try Self.checked(protection, newPasswordHash: newPasswordHash)
        return result
    }

    /// The protection settings with what does not apply to the mode left
    /// out (a username outside `basic`), or the problem.
    private static func checked(_ protection: SiteProtection, newPasswordHash: String?) throws(CatalogError)
        -> SiteProtection
    {
        var result = protection
        switch protection.mode {
        case .none:
            result.username = nil
            if newPasswordHash != nil {
                throw .invalidInput("protection.password is only taken with mode 'password' or 'basic'")
            }
        case .password:
            result.username = nil
        case .basic:
            guard let username = protection.username else {
                throw .invalidInput(
                    "protection.username is required with mode 'basic'; give the name visitors sign in with")
            }
            if let problem = SiteProtection.usernameProblem(username) { throw .invalidInput(problem) }
        }
        if let hash = newPasswordHash, !PasswordHash.isWellFormed(hash) {
            throw .invalidInput("the password hash is not in the scrypt form Slipway stores")
        }
        return result
    }

    private static func checkSingleLine(_ value: String, field: String, maxBytes: Int) throws(CatalogError) {
        if value.isEmpty { throw .invalidInput("\(field) is empty; give a value") }
        if value.utf8.count > maxBytes { throw .invalidInput("\(field) is longer than \(maxBytes) bytes; shorten it") }
        if value.unicodeScalars.contains(where: { $0.properties.isWhitespace || isControl($0) }) {
            throw .invalidInput("\(field) contains whitespace or control characters; remove them")
        }
        if value.hasPrefix("-") { throw .invalidInput("\(field) may not start with '-'") }
    }

    private static func relativePath(_ value: String?, field: String) throws(CatalogError) -> String? {
        guard let value, !value.isEmpty else { return nil }
        if value.utf8.count > maxPathLength {
            throw .invalidInput("\(field) is longer than \(maxPathLength) bytes; shorten it")
        }
        if value.unicodeScalars.contains(where: isControl) || value.contains("\\") {
            throw .invalidInput("\(field) contains control characters or backslashes; use '/' between directories")
        }
        if value.hasPrefix("/") {
            throw .invalidInput(
                "\(field) '\(value)' is absolute; give a path relative to the repository, like 'web' or 'web/dist'")
        }
        if value.split(separator: "/").contains(where: { $0 == ".." }) {
            throw .invalidInput("\(field) '\(value)' contains '..'; it must stay inside the repository")
        }
        return value
    }

    private static func command(_ value: String?, field: String) throws(CatalogError) -> String? {
        guard let value, !value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return nil }
        if value.utf8.count > maxCommandLength {
            throw .invalidInput(
                "\(field) is longer than \(maxCommandLength) bytes; move it into a script in the repository")
        }
        if value.unicodeScalars.contains(where: { isControl($0) && $0 != "\n" && $0 != "\t" }) {
            throw .invalidInput("\(field) contains control characters; only tabs and newlines are allowed")
        }
        return value
    }

    private static func check(env: [BuildVariable]) throws(CatalogError) {
        if env.count > maxVariables {
            throw .invalidInput("env has \(env.count) variables; at most \(maxVariables) are allowed")
        }
        var seen = Set<String>()
        var total = 0
        for variable in env {
            if !isVariableName(variable.name) {
                throw .invalidInput(
                    "env name '\(variable.name.prefix(80))' is not valid; use letters, digits and '_', not starting with a digit, at most \(maxVariableNameLength) characters"
                )
            }
            if !seen.insert(variable.name).inserted {
                throw .invalidInput("env name '\(variable.name)' appears twice; give each variable once")
            }
            if variable.value.utf8.count > maxVariableValueLength {
                throw .invalidInput(
                    "env value of '\(variable.name)' is longer than \(maxVariableValueLength) bytes; shorten it")
            }
            if variable.value.utf8.contains(0) {
                throw .invalidInput("env value of '\(variable.name)' contains a NUL byte; remove it")
            }
            total += variable.name.utf8.count + variable.value.utf8.count
        }
        if total > maxEnvironmentBytes {
            throw .invalidInput("env holds \(total) bytes; at most \(maxEnvironmentBytes) are allowed")
        }
    }

    /// `^[A-Za-z_][A-Za-z0-9_]*$`, bounded.
    package static func isVariableName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= maxVariableNameLength else { return false }
        func isLetter(_ byte: UInt8) -> Bool {
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || byte == UInt8(ascii: "_")
        }
        return isLetter(first)
            && bytes.allSatisfy { isLetter($0) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) }
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (scalar.value >= 0x7f && scalar.value < 0xa0)
    }
}
