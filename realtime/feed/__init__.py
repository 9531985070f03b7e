"""The change feed: the leader reads committed audit rows in order and turns them into events."""
