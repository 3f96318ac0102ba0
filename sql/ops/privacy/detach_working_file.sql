detach work
