from upliftree.cli import main

main()
