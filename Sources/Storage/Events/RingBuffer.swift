/// A growable FIFO with O(1) append and removal at the front.
///
/// A value type with copy-on-write storage, like `Array`, except that the
/// copy is made here, explicitly, and counted (``copyCount``): a copy costs
/// O(count), so the hot paths that keep one (a build log's kept lines, a
/// subscriber's queue) can be checked never to make one.
struct RingBuffer<Element> {
    /// The slots, shared between copies of the buffer until one of them changes.
    private final class Storage {
        var slots: [Element?]

        init(slots: [Element?]) { self.slots = slots }
    }

    private var storage = Storage(slots: [])
    private var head = 0
    private(set) var count = 0
    /// How many times a change found the storage shared with another copy
    /// of this buffer and copied every slot first.
    private(set) var copyCount = 0

    var isEmpty: Bool { count == 0 }

    /// Slots allocated.
    var capacity: Int { storage.slots.count }

    /// The identity of the storage now in use: it changes only when the
    /// buffer grows or is copied.
    var storageIdentity: ObjectIdentifier { ObjectIdentifier(storage) }

    var last: Element? { count == 0 ? nil : storage.slots[(head + count - 1) % capacity] }

    mutating func append(_ element: Element) {
        makeUnique()
        if count == capacity { grow() }
        storage.slots[(head + count) % capacity] = element
        count += 1
    }

    mutating func replaceLast(with element: Element) {
        precondition(count > 0)
        makeUnique()
        storage.slots[(head + count - 1) % capacity] = element
    }

    mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        makeUnique()
        let element = storage.slots[head]
        storage.slots[head] = nil
        head = (head + 1) % capacity
        count -= 1
        return element
    }

    mutating func removeAll() {
        storage = Storage(slots: [])
        head = 0
        count = 0
    }

    /// The elements, first to last.
    func elements() -> [Element] {
        (0..<count).map { storage.slots[(head + $0) % capacity]! }
    }

    /// Copies the slots when another copy of the buffer shares them, so a
    /// change never shows through a copy (value semantics).
    private mutating func makeUnique() {
        guard !isKnownUniquelyReferenced(&storage) else { return }
        storage = Storage(slots: storage.slots)
        copyCount += 1
    }

    private mutating func grow() {
        let newCapacity = max(16, capacity * 2)
        var slots = [Element?](repeating: nil, count: newCapacity)
        for index in 0..<count { slots[index] = storage.slots[(head + index) % capacity] }
        storage = Storage(slots: slots)
        head = 0
    }
}

// The storage is a class, but no two buffers ever change one storage:
// every change goes through `makeUnique()` first, which gives the changing
// buffer a storage of its own, exactly as `Array` does.
extension RingBuffer: @unchecked Sendable where Element: Sendable {}
