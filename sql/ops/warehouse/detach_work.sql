-- In the analyst file's connection: the working file let go before the last checkpoint.
detach work;
