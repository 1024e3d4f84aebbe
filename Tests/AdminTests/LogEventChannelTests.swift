import Testing

@testable import Admin

@Suite struct LogEventChannelTests {
    @Test func aFullChannelMakesSendersWaitUntilTheConsumerReads() async throws {
        let channel = LogEventChannel<Int>(capacity: 2)
        #expect(await channel.send(1))
        #expect(await channel.send(2))
        #expect(!channel.trySend(99))
        let blocked = Task { await channel.send(3) }
        #expect(await channel.next() == 1)
        #expect(await blocked.value)
        #expect(await channel.next() == 2)
        #expect(await channel.next() == 3)
    }

    @Test func closingReleasesWaitingSendersAndEndsTheConsumerAfterTheQueue() async throws {
        let channel = LogEventChannel<Int>(capacity: 1)
        #expect(await channel.send(1))
        let blocked = Task { await channel.send(2) }
        await Task.yield()
        // Parked or not yet started, the sender learns the channel closed.
        channel.close()
        #expect(await blocked.value == false)
        #expect(await channel.next() == 1)
        #expect(await channel.next() == nil)
        #expect(await !channel.send(5))
    }
}
