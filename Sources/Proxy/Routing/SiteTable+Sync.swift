public import Logging
public import Storage

extension SiteTable {
    /// Keeps the table current until the calling task is cancelled.
    ///
    /// Catalog events from `subscription` are applied as they come. A
    /// `.missed` delivery (this subscriber fell behind and lost events) and a
    /// timer every `reconcileInterval` both reload the whole table from the
    /// catalog: the safety net for anything an event did not say. A reload
    /// that fails is logged and retried at the next tick; the table keeps
    /// serving what it knew.
    ///
    /// - Parameters:
    ///   - subscription: subscribe before the first ``reload(from:)`` so that
    ///     no event falls between the two.
    ///   - onActivated: told of each `activated` event once the table has
    ///     applied it, and of each change of a site's active build a reload
    ///     discovers (the proxy starts its cache prefetch there); it must
    ///     return at once, as the next event waits for it.
    ///   - onDomainsChanged: called once the table has applied an event
    ///     that can change which custom domains route (a domain changed or
    ///     removed, a site created or deleted), and after every reload,
    ///     whether it succeeded or not (the proxy reconciles the domains'
    ///     certificates there, and so retries what failed at each periodic
    ///     reconcile); it must return at once too.
    public func follow(
        _ subscription: BusSubscription<CatalogEvent>, catalog: any Catalog, reconcileInterval: Duration,
        logger: Logger, onActivated: @escaping @Sendable (Activation) -> Void = { _ in },
        onDomainsChanged: @escaping @Sendable () -> Void = {}
    ) async {
        let (triggers, trigger) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await delivery in subscription {
                    switch delivery {
                    case .value(let event):
                        self.apply(event)
                        switch event {
                        case .activated(let activation): onActivated(activation)
                        case .domainChanged, .domainRemoved, .siteCreated, .siteDeleted: onDomainsChanged()
                        case .siteUpdated, .buildChanged: break
                        }
                    case .missed(let count):
                        logger.warning(
                            "the site table missed catalog events; reloading it", metadata: ["missed": "\(count)"])
                        trigger.yield()
                    }
                }
                if !Task.isCancelled {
                    logger.error(
                        "the catalog event subscription ended; the site table now relies on its periodic reconcile")
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    do { try await Task.sleep(for: reconcileInterval) } catch { break }
                    trigger.yield()
                }
                trigger.finish()
            }
            group.addTask {
                for await _ in triggers {
                    do {
                        for activation in try await self.reload(from: catalog) { onActivated(activation) }
                    } catch {
                        logger.error(
                            "cannot reconcile the site table with the catalog", metadata: ["error": "\(error)"])
                    }
                    onDomainsChanged()
                }
            }
            await group.waitForAll()
        }
    }
}
