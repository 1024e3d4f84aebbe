import Builder
import Storage

extension SlipwayConfiguration {
    /// The build engine's settings.
    var builderConfiguration: BuilderConfiguration {
        let runner: BuilderConfiguration.RunnerKind =
            switch builds.runner {
            case .auto: .auto
            case .docker: .docker
            case .local: .local
            }
        return BuilderConfiguration(
            dataDirectory: dataDirectory, runner: runner, image: builds.image, concurrency: builds.concurrency,
            timeout: builds.timeout, memoryBytes: builds.memoryBytes, cpus: builds.cpus, pidsLimit: builds.pids,
            networkMode: builds.network, dockerHost: builds.dockerHost, allowLocalRepositories: builds.allowLocalRepos,
            maxOutputFiles: builds.maxFiles, maxOutputBytes: builds.maxOutputBytes,
            keepSuccessfulBuilds: builds.keepBuilds, leaseDuration: queue.leaseDuration)
    }
}
