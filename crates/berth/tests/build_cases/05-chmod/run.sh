#!/bin/sh
echo ran with mode $(stat -c %a /usr/local/bin/run.sh)
