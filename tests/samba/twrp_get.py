#!/usr/bin/python3
"""Reads a file of a previous version the way Windows does over SMB2/3:
an SMB2 CREATE with the TWrp (timewarp) create context, through impacket
(which turns an @GMT-YYYY.MM.DD-hh.mm.ss path component into that
context). Prints the file's bytes.

Usage: twrp_get.py HOST PORT USER PASSWORD SHARE PATH
"""
import sys

from impacket.smbconnection import SMBConnection

host, port, user, password, share, path = sys.argv[1:7]
# The first read of a point waits for its appliance to start.
conn = SMBConnection(host, host, sess_port=int(port), timeout=180)
conn.login(user, password)
data = bytearray()
conn.getFile(share, path, data.extend)
sys.stdout.buffer.write(data)
