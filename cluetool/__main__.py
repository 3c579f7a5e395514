from cluetool.cli import main

main()
