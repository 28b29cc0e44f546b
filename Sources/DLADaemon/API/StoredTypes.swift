import DLAStore

/// The store's top-1 type: `DLAStore.TopClass` cannot be spelled where the module and its
/// `DLAStore` class share a name, and DLAAPI has a `TopClass` of its own.
typealias StoredTopClass = TopClass
