import NIOCore
import Testing

@testable import Proxy

@Suite struct CPUAffinityTests {
    @Test func theDefaultEventLoopCountIsWithinTheCoresOfThisMachine() {
        let count = ProxyConfiguration.defaultEventLoopThreads
        #expect(count >= 1)
        #expect(count <= System.coreCount)
        #if os(Linux)
            #expect(CPUAffinity.allowedCoreCount() != nil)
        #endif
    }

    @Test(arguments: [
        ("Name:\tslipway\nCpus_allowed:\t1\nCpus_allowed_list:\t0\nMems_allowed:\t1\n", 1),
        ("Cpus_allowed_list:\t0-1\n", 2),
        ("Cpus_allowed_list:\t0-3,8,10-11\n", 7),
    ])
    func theAllowedListIsCounted(status: String, expected: Int) {
        #expect(CPUAffinity.allowedCoreCount(status: status) == expected)
    }

    @Test(arguments: [
        "Name:\tslipway\n", "Cpus_allowed_list:\t3-1\n", "Cpus_allowed_list:\tx\n", "Cpus_allowed_list:\t\n",
    ])
    func anUnreadableListSaysNothing(status: String) {
        #expect(CPUAffinity.allowedCoreCount(status: status) == nil)
    }
}
