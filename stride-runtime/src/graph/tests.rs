//! The executor, loader, saver and fuser on small hand-written graphs.
